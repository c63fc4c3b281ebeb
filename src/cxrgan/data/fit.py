"""The names of the fit policies (how a non-square image becomes square), without the image
code: settings and `--help` list them without importing numpy or Pillow. The policies
themselves are in data/preprocess.py."""

FIT_POLICIES = ("crop", "pad", "squash")
