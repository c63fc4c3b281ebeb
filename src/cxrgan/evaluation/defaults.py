"""Defaults of `cxrgan evaluate`, in a module that imports nothing: `cxrgan evaluate --help`
shows them without loading torch or numpy."""

N = 2000  # images drawn from each side, overall and per class
FIT = "crop"  # how folders' images become square
CHECKPOINT = "last"  # a run's checkpoint to generate from
SEED = 0
IMAGE_SIZE = 64  # for two folders whose generated images have no one square size
MIN_IMAGE_SIZE = 8  # one Haar level with 4 x 4 coefficients per packet: the least the metrics use
MIN_N = 2  # fewer images leave no metric to compute
FEW = 500  # below this many images per side FWD/KID are biased and PRDC noisy
