"""The utility score (`cxrgan utility`): do synthetic images help a classifier?

One fixed classifier (classifier.py) is trained on three sets (sets.py): real images only,
synthetic images only, and real images with the smaller classes topped up with synthetic ones.
inputs.py loads the folders, or draws from a conditional run; stats.py scores each classifier on
held-out real images and bootstraps intervals; score.py runs it all and writes utility.json,
chart.py utility.png, summary.py the printed table. defaults.py holds the defaults, importable
without torch for `--help`.
"""
