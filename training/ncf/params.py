"""Hyper-parameters of the NeuMF trainer (no TensorFlow import, safe to use from the web process)."""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

LOSSES = ("bce", "softmax")
MAX_MLP_LAYERS = 6
MAX_WIDTH = 2048
# (type, smallest, largest) of every numeric setting: what a request may ask a worker to train. Bounds keep a
# job within a worker's memory and time (an embedding of a million factors would only fail, slowly).
LIMITS: dict[str, tuple[type, float, float]] = {
    "embedding_dim": (int, 1, MAX_WIDTH),
    "epochs": (int, 1, 500),
    "batch_size": (int, 1, 1_000_000),
    "learning_rate": (float, 1e-7, 1.0),
    "finetune_learning_rate": (float, 1e-7, 1.0),
    "lr_decay": (float, 1e-3, 1.0),
    "num_negatives": (int, 1, 100),
    "l2": (float, 0.0, 10.0),
    "l2_dense": (float, 0.0, 10.0),
    "seed": (int, 0, 2**32 - 1),
    "pretrain_epochs": (int, 1, 500),
    "patience": (int, 0, 100),
    "refit_epochs": (int, 0, 500),
    "min_delta": (float, 0.0, 1.0),
    "init_std": (float, 1e-6, 10.0),
    "recency_boost": (float, 0.0, 100.0),
    "recency_tau": (float, 0.1, 1e6),
}


def _check_number(name: str, value: object, kind: type, low: float, high: float) -> None:
    """`value` is a finite number of the right kind within [low, high], or ValueError names the setting."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number")
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number")
        if kind is int and not float(value).is_integer():
            raise ValueError(f"{name} must be a whole number")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low:g} and {high:g}")


@dataclass(frozen=True)
class NCFParams:
    """NeuMF training settings. The defaults are those measured by ``bench/ncf_ml1m.py`` (docs/BENCHMARKS.md).

    embedding_dim:   GMF factors.
    mlp_layers:      MLP tower; ``mlp_layers[0]`` is the width of the concatenated user+item MLP embedding
                     (so each MLP embedding has ``mlp_layers[0] // 2`` factors), the rest are ReLU Dense widths.
    epochs:          maximum number of epochs; with validation data, early stopping picks the best one.
    batch_size:      examples (positives + negatives) per gradient step.
    learning_rate:   Adam learning rate of a fresh model (and of the GMF / MLP pre-training runs).
    finetune_learning_rate: Adam learning rate of the fused NeuMF after pre-training (a warm start uses
                     ``learning_rate``: its new users and items start from scratch).
    lr_decay:        multiplicative learning-rate decay applied after every epoch (1.0 = constant).
    num_negatives:   negatives sampled per positive, resampled every epoch.
    loss:            ``"bce"``: binary cross-entropy on every example (He et al.); ``"softmax"``: each positive
                     against its own ``num_negatives`` negatives (sampled softmax), a ranking loss.
    l2:              L2 penalty on the embeddings looked up in each batch (per example, averaged over the batch),
                     like per-example weight decay in SGD matrix factorisation.
    l2_dense:        L2 penalty on the MLP and output kernels (summed over weights, added once per batch).
    learn_gmf_weights: learn the GMF output weights h (paper). False fixes h = 1, a plain dot product: h is
                     redundant (it folds into the embeddings) and, when learned, lets the model escape ``l2``.
    item_bias:       add a learned per-item logit offset (L2-regularised like the embeddings).
    seed:            seeds NumPy sampling, weight initialisation and TensorFlow ops.
    pretrain:        train GMF and MLP separately first, then fuse them with alpha = 0.5 (He et al. 2017).
    pretrain_epochs: maximum epochs of each pre-training run (early-stopped like the main run).
    patience:        epochs without a validation HR@10 improvement before stopping.
    refit:           after early stopping, retrain from scratch on the training data plus the validation rows for
                     the chosen number of epochs (doubles the training time; see ``train_ncf``).
    refit_epochs:    0: the refit trains from scratch for all the chosen epochs. k > 0: it resumes the selection
                     run's state (weights and Adam moments) from k epochs before the chosen one and trains the
                     last k epochs on all the data (the refit then costs k epochs instead of all of them).
    min_delta:       smallest validation HR@10 increase that counts as an improvement.
    init_std:        standard deviation of the normal initialiser of all embeddings.
    recency_boost, recency_tau: a user's interactions weigh ``1 + recency_boost * exp(-r / recency_tau)`` times
                     their confidence, ``r`` = how many of the user's interactions came later (so the latest
                     weighs ``1 + recency_boost``); 0 turns it off. Applied to the data before the splits, by
                     ``training.pipeline.run`` (and the ML-1M bench), see ``recency_multiplier``.
    """

    embedding_dim: int = 256
    mlp_layers: tuple[int, ...] = (64, 32, 16)
    epochs: int = 10
    batch_size: int = 8192
    learning_rate: float = 0.004
    finetune_learning_rate: float = 0.0002
    lr_decay: float = 0.8
    num_negatives: int = 8
    loss: str = "bce"
    l2: float = 0.003
    l2_dense: float = 0.0001
    learn_gmf_weights: bool = False
    item_bias: bool = False
    seed: int = 0
    pretrain: bool = False
    pretrain_epochs: int = 20
    patience: int = 2
    refit: bool = True
    refit_epochs: int = 5
    min_delta: float = 0.0
    init_std: float = 0.1
    recency_boost: float = 3.0
    recency_tau: float = 10.0

    def __post_init__(self) -> None:
        layers = self.mlp_layers
        if isinstance(layers, str | bytes) or not isinstance(layers, list | tuple):
            raise ValueError("mlp_layers must be a list of layer widths, e.g. [64, 32, 16]")
        if not 1 <= len(layers) <= MAX_MLP_LAYERS:
            raise ValueError(f"mlp_layers must have 1 to {MAX_MLP_LAYERS} entries")
        for width in layers:
            _check_number("mlp_layers", width, int, 1, MAX_WIDTH)
        object.__setattr__(self, "mlp_layers", tuple(int(x) for x in layers))
        if self.mlp_layers[0] < 2 or self.mlp_layers[0] % 2:
            raise ValueError("mlp_layers[0] must be an even number >= 2 (user + item MLP embedding width)")
        for name, (kind, low, high) in LIMITS.items():
            _check_number(name, getattr(self, name), kind, low, high)
        for name in ("learn_gmf_weights", "item_bias", "pretrain", "refit"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}")
        for name, (kind, _, _) in LIMITS.items():
            object.__setattr__(self, name, kind(getattr(self, name)))

    @property
    def mlp_embedding_dim(self) -> int:
        return self.mlp_layers[0] // 2

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["mlp_layers"] = list(self.mlp_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NCFParams:
        """Inverse of :meth:`to_dict`; missing keys take the defaults, unknown keys raise ``ValueError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown NCFParams key(s): {', '.join(unknown)}")
        return cls(**data)

    def replace(self, **changes: Any) -> NCFParams:
        return dataclasses.replace(self, **changes)
