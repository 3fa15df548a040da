"""How the learning rate comes down, and which epoch a run keeps.

A constant Adam rate leaves epoch-to-epoch noise late in training (docs/training.md). Cosine decay
to zero over the configured epochs settles the weights; the run then keeps the epoch with the best
held-out negative ELBO.
"""

from __future__ import annotations

import math

import keras

SCHEDULES = ("cosine", "constant")


def learning_rate(name: str, initial: float, epochs: int, steps_per_epoch: int):
    """The optimizer's learning rate: a float, or a schedule over every step of the run."""
    if name == "constant":
        return initial
    return keras.optimizers.schedules.CosineDecay(initial, decay_steps=max(1, epochs * steps_per_epoch), alpha=0.0)


def steps_per_epoch(images: int, batch_size: int) -> int:
    return math.ceil(images / batch_size)


def best_epoch(history: dict) -> int:
    """1-based epoch with the lowest held-out loss (`val_loss`; `loss` when there is none); 0 if none."""
    losses = history.get("val_loss") or history.get("loss") or []
    finite = [(loss, epoch) for epoch, loss in enumerate(losses, 1) if math.isfinite(loss)]
    return min(finite)[1] if finite else 0


def should_stop(history: dict, patience: int | None) -> bool:
    """Early stopping from the saved history alone, so a resumed run stops where it would have."""
    epochs = len(history.get("val_loss") or [])
    return patience is not None and epochs - best_epoch(history) >= patience
