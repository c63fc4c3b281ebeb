"""Label files: the CSVs of ChestX-ray14, CheXpert, MIMIC-CXR-JPG and hospital exports, read
into one table (table.py) by one module per format, and the rules that choose classes from it
(rules.py). See docs/labels.md."""

from cxrgan.data.labels.options import FORMATS, LabelOptions
from cxrgan.data.labels.registry import detect, read_labels
from cxrgan.data.labels.request import LabelRequest, choose
from cxrgan.data.labels.rules import (
    MIN_CLASS_IMAGES,
    MULTI_LABEL,
    UNCERTAIN,
    LabelRule,
    Selection,
    select,
)
from cxrgan.data.labels.table import LabelTable

__all__ = ["FORMATS", "MIN_CLASS_IMAGES", "MULTI_LABEL", "UNCERTAIN", "LabelOptions",
           "LabelRequest", "LabelRule", "LabelTable", "Selection", "choose", "detect",
           "read_labels", "select"]  # fmt: skip
