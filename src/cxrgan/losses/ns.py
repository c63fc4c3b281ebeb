"""The non-saturating logistic loss of Goodfellow et al. 2014, as StyleGAN2 names and uses it:

    D: softplus(−D(x)) + softplus(D(G(z)))      G: softplus(−D(G(z)))

This is exactly the maths of `bce` (the DCGAN tutorial's BCE with labels 1/0 and G trained with
label 1), since −log σ(l) = softplus(−l) and −log(1 − σ(l)) = softplus(l). `--loss ns` exists so
that the name used in the StyleGAN2/ADA literature works; it trains bit for bit like `--loss bce`
(tests/training/test_losses.py checks values and gradients). It is its own class only so that a
run's loss reads as what it was asked for.
"""

from __future__ import annotations

from cxrgan.losses.bce import BCELoss


class NonSaturatingLoss(BCELoss):
    """`bce` under its StyleGAN2 name: the same three functions."""
