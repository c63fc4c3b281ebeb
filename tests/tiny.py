"""The smallest training settings that still run every real code path, shared by the tests.

They train the tutorial's recipe (rates 2e-4 held constant, no EMA), whatever the default recipe
is: most tests assert on the tutorial's behaviour; tests of the recipes name theirs. Naming the
recipe is enough: a TrainConfig takes the recipe it names under the fields it is given."""

TINY_CONFIG = dict(recipe="tutorial", image_size=32, ngf=8, ndf=8, nz=16, batch_size=16,
                   device="cpu", progress=False)  # fmt: skip

TINY_ARGS = ["--recipe", "tutorial", "--image-size", "32", "--ngf", "8", "--ndf", "8", "--nz", "16",
             "--batch-size", "16", "--device", "cpu", "--no-progress"]  # fmt: skip
