"""Defaults of `cxrgan privacy`, in a module that imports nothing: `cxrgan privacy --help`
shows them without loading torch or numpy. docs/privacy.md explains each."""

N_GENERATED = 2000  # generated images each query film is compared with (per class if conditional)
BOOTSTRAP = 1000  # resamples of members and of non-members for the 95 % intervals
MIN_BOOTSTRAP = 100  # fewer leave the ends of a 95 % interval to a handful of values
MIN_FILMS = 20  # members and non-members each (per class): fewer give intervals ~0.3 wide
CONFIDENCE = 0.95
FPR = 0.01  # the false-positive rate at which the true-positive rate is reported
TPR_KEY = "tpr_at_1pct_fpr"  # its key in privacy.json
# An attack shows leakage when its AUC's lower 95 % bound clears chance (0.5) by this much: a
# margin keeps a generator with a negligible edge (AUC 0.505 on 50,000 films) from "leaking".
MARGIN = 0.02
CHECKPOINT = "last"
SEED = 0
PRIVACY_JSON = "privacy.json"
ROC_PNG = "plots/privacy_roc.png"
