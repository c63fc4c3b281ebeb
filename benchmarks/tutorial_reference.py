"""A faithful re-implementation of the PyTorch DCGAN tutorial's data pipeline and training loop.

Our own code, following the tutorial's description, used only as the reference that
benchmarks measure cxrgan against. One channel (the X-rays are gray); no torchvision
(it cannot be installed beside the CPU torch here), so its transforms are written out with
Pillow exactly as torchvision applies them to PIL images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

REAL_LABEL, FAKE_LABEL = 1.0, 0.0


class TutorialImageFolder(Dataset):
    """dset.ImageFolder + Resize(s) + CenterCrop(s) + ToTensor + Normalize(0.5, 0.5), per item."""

    def __init__(self, files: list[Path], image_size: int):
        self.files, self.size = files, image_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        with Image.open(self.files[i]) as img:
            img = img.convert("L")
        w, h = img.size  # Resize(int): shorter side → size, bilinear with antialias (PIL)
        new = (self.size, int(self.size * h / w)) if w < h else (int(self.size * w / h), self.size)
        img = img.resize(new, Image.Resampling.BILINEAR)
        left = round((new[0] - self.size) / 2.0)  # CenterCrop
        top = round((new[1] - self.size) / 2.0)
        img = img.crop((left, top, left + self.size, top + self.size))
        x = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).float().div(255)  # ToTensor
        return x.unsqueeze(0).sub(0.5).div(0.5), 0  # Normalize((0.5,), (0.5,))


def tutorial_loader(
    files: list[Path], image_size: int, batch_size: int, workers: int = 2
) -> DataLoader:
    return DataLoader(
        TutorialImageFolder(files, image_size),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
    )


def tutorial_step(
    net_g: nn.Module,
    net_d: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real_cpu: torch.Tensor,
    nz: int,
    criterion: nn.Module,
) -> tuple[float, float, float, float, float]:
    """The tutorial's inner loop body, line for line."""
    net_d.zero_grad()
    b_size = real_cpu.size(0)
    label = torch.full((b_size,), REAL_LABEL, dtype=torch.float)
    output = net_d(real_cpu).view(-1)
    err_d_real = criterion(output, label)
    err_d_real.backward()
    d_x = output.mean().item()
    noise = torch.randn(b_size, nz, 1, 1)
    fake = net_g(noise)
    label.fill_(FAKE_LABEL)
    output = net_d(fake.detach()).view(-1)
    err_d_fake = criterion(output, label)
    err_d_fake.backward()
    d_g_z1 = output.mean().item()
    err_d = err_d_real + err_d_fake
    opt_d.step()
    net_g.zero_grad()
    label.fill_(REAL_LABEL)
    output = net_d(fake).view(-1)
    err_g = criterion(output, label)
    err_g.backward()
    d_g_z2 = output.mean().item()
    opt_g.step()
    return err_g.item(), err_d.item(), d_x, d_g_z1, d_g_z2
