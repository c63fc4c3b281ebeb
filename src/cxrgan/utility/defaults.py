"""Defaults of `cxrgan utility`, in a module that imports nothing: `cxrgan utility --help`
shows them without loading torch or numpy."""

EPOCHS = 10  # passes over each training set (the classifier's fixed schedule)
SEEDS = 3  # classifiers per training set, seeds S, S+1, ...
BOOTSTRAP = 1000  # resamples of the test images for the 95 % intervals
IMAGE_SIZE = 64  # for a --synthetic folder (a run's generator sets its own size)
MIN_IMAGE_SIZE = 16  # four 2× poolings leave 1 px; below 16 px BatchNorm sees too little
CHECKPOINT = "last"
CONFIDENCE = 0.95
MIN_BOOTSTRAP = 100  # fewer resamples leave the ends of a 95 % interval to a handful of values
TSTR_TARGET = 0.85  # issue #10: TSTR balanced accuracy ≥ 0.85 × TRTR
GAIN_TARGET = -0.01  # issue #10: lower 95 % bound of the AUC gain of real + synthetic ≥ −0.01
