"""Hyper-parameters of the NeuMF trainer (no TensorFlow import, safe to use from the web process)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

LOSSES = ("bce", "softmax")


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
    min_delta:       smallest validation HR@10 increase that counts as an improvement.
    init_std:        standard deviation of the normal initialiser of all embeddings.
    """

    embedding_dim: int = 256
    mlp_layers: tuple[int, ...] = (64, 32, 16)
    epochs: int = 12
    batch_size: int = 8192
    learning_rate: float = 0.003
    finetune_learning_rate: float = 0.0002
    lr_decay: float = 0.85
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
    min_delta: float = 0.0
    init_std: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "mlp_layers", tuple(int(x) for x in self.mlp_layers))
        if self.embedding_dim < 1:
            raise ValueError("embedding_dim must be >= 1")
        if len(self.mlp_layers) < 1 or self.mlp_layers[0] < 2 or self.mlp_layers[0] % 2:
            raise ValueError("mlp_layers[0] must be an even number >= 2 (user + item MLP embedding width)")
        if any(x < 1 for x in self.mlp_layers):
            raise ValueError("mlp_layers must be positive")
        for name in ("epochs", "batch_size", "num_negatives", "patience"):
            if getattr(self, name) < (0 if name == "patience" else 1):
                raise ValueError(f"{name} is out of range")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}")
        rates_ok = min(self.learning_rate, self.finetune_learning_rate) > 0 and 0 < self.lr_decay <= 1
        if not rates_ok or self.l2 < 0 or self.l2_dense < 0:
            raise ValueError("learning_rate must be > 0, l2 and l2_dense >= 0, lr_decay in (0, 1]")

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
