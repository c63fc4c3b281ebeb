"""One pass over a set's Haar packets: what FWD, KID and PRDC read from it.

The same packets feed FWD's per-packet statistics (linear and log-scaled) and the per-image
features of KID and PRDC, so each set is transformed once whichever of them run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cxrgan.metrics.features import features_from_packets, prdc_features_from_packets
from cxrgan.metrics.fwd import CHUNK, PacketStats, StatsAccumulator
from cxrgan.metrics.images import chunks
from cxrgan.metrics.wavelets import LOG_EPS, haar_packets

MIN_STATS = 2  # a covariance needs two images


@dataclass
class Described:
    """One pass over a set of unit-range images: what every wavelet metric needs from it."""

    n: int
    lin: PacketStats | None  # per-packet Gaussians (None below MIN_STATS images)
    log: PacketStats | None  # the same on log-scaled packets, when asked for
    kid_raw: np.ndarray  # raw KID features
    prdc_raw: np.ndarray  # raw PRDC features


def describe(x: torch.Tensor, level: int, log_too: bool, prdc_too: bool = True) -> Described:
    """One pass over unit-range images: linear (and log) packet stats, raw per-image features."""
    lin, log = StatsAccumulator(), StatsAccumulator()
    kid_feats, prdc_feats = [], []
    for part in chunks(len(x), CHUNK):
        packets = haar_packets(x[part], level)
        lin.add(packets)
        if log_too:
            log.add(torch.log(packets.abs() + LOG_EPS))
        kid_feats.append(features_from_packets(x[part], packets, level))
        if prdc_too:
            prdc_feats.append(prdc_features_from_packets(x[part], packets, level))
    enough = len(x) >= MIN_STATS
    return Described(
        n=len(x),
        lin=lin.result(level, "haar", False) if enough else None,
        log=log.result(level, "haar", True) if enough and log_too else None,
        kid_raw=torch.cat(kid_feats).numpy(),
        prdc_raw=torch.cat(prdc_feats).numpy() if prdc_too else np.empty((len(x), 0)),
    )
