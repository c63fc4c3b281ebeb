"""The privacy audit (`cxrgan privacy`): can an attacker tell whether a film was in the training
set? Membership-inference attacks from the literature, each scored as an ROC AUC with a 95 %
bootstrap interval and the true-positive rate at 1 % false positives (docs/privacy.md).

target.py opens the generator (a run, or an export bundle) and its D; films.py loads the
members and non-members and checks them (patients disjoint, enough films); attacks.py scores
every film; stats.py holds the statistics; verdict.py the plain-words verdict; audit.py runs it
all and writes privacy.json, chart.py the ROC plot. defaults.py holds the defaults, importable
without torch for `--help`.
"""
