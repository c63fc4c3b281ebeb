"""The smallest training settings that still run every real code path, shared by the tests."""

TINY_CONFIG = dict(image_size=32, ngf=8, ndf=8, nz=16, batch_size=16, device="cpu", progress=False)

TINY_ARGS = ["--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
             "--batch-size", "16", "--device", "cpu", "--no-progress"]  # fmt: skip
