"""Drawing images from a trained run: load its generator (`generate`), sample by class name as
users hold it (`synthetic`, behind the Python API), and write a generated data set with a
manifest that draws every image again (`generated_set`). Above training: nothing here trains."""
