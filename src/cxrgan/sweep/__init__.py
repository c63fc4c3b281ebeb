"""`cxrgan sweep`: many training runs over a grid of settings, resumable, ranked.

Import from the defining modules (cxrgan.sweep.session, .grid, .spec, ...): this package
re-exports nothing.
"""
