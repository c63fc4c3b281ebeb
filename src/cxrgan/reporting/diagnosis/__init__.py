"""The parts of `cxrgan.reporting.diagnose`, which puts them together: `stats` (the numbers read
from a window of records), `rules` (which states apply, and why) and `advice` (what to change,
in words). Numbers become text in `cxrgan.reporting.formatting`."""
