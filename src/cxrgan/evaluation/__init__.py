"""`cxrgan evaluate` as a library function: real images against generated ones (a folder, or
a run's generator), overall and per class, as the JSON payload the command writes.

evaluate.py runs it (`evaluate(EvaluateOptions(...))`; the Python API's `cxrgan.evaluate`),
sides.py loads each side and matches their classes, sizes.py picks the comparison size and
says what it did to the images, summary.py is the text the command prints. defaults.py holds
the defaults, importable without torch for `--help`. The metrics are cxrgan.metrics'.
"""
