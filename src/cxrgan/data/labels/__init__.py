"""Label files: the CSVs of ChestX-ray14, CheXpert, MIMIC-CXR-JPG and hospital exports, read
into one table (table.py) by one module per format (nih.py, chexpert.py, mimic.py,
generic.py; registry.py tells them apart), the rules that choose classes from it (rules.py),
the label report of `data inspect` (report.py) and patient-disjoint sides (sides.py). See
docs/labels.md. Nothing is imported here: options.py must stay light for `cxrgan --help`."""
