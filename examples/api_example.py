import torch

import cxrgan

settings = {"data": "chest_xray/train", "conditional": True, "recipe": "small-data"}
run = cxrgan.train({**settings, "epochs": 5, "eval_every": 1})  # returns the run directory
g = cxrgan.load_generator(run)  # checkpoints/best (lowest FWD), the EMA generator
for name in g.classes:  # NORMAL, PNEUMONIA: the data folder's subfolders
    images = g.sample(16, label=name, seed=0)  # (16, 64, 64) uint8; same seed, same images
normal = cxrgan.SyntheticDataset(run, 1000, label="NORMAL")  # (1, 64, 64) in [-1, 1], class 0
loader = torch.utils.data.DataLoader(normal, batch_size=64, shuffle=True)  # or a ConcatDataset
x, y = next(iter(loader))  # x: (64, 1, 64, 64) float, y: (64,) class indices
