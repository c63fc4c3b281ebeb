"""cxrgan: train GANs that make synthetic chest X-rays, and judge them offline."""

__version__ = "0.1.0"
