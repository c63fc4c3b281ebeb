"""Reading studies (a visual Turing test: make a page, score readers) and release bundles."""
