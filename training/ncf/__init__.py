"""Neural Collaborative Filtering (NeuMF, He et al. WWW 2017) trainer -- the only TensorFlow user in the project.

The pure-NumPy parts (:class:`NCFParams`, :class:`InteractionData`, :func:`validation_split`, ...) import
without TensorFlow; the TensorFlow parts (:func:`train_ncf`, :func:`export_weights`, ...) are loaded on first
attribute access, so ``from training.ncf import NCFParams`` stays cheap in the web process.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from training.ncf.data import (
    InteractionData,
    ValidationSet,
    epoch_examples,
    merge_duplicates,
    recency_multiplier,
    sample_training_negatives,
    validation_split,
)
from training.ncf.params import NCFParams

# Quiet TensorFlow's C++ start-up logging unless the caller chose a level (must precede its import).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_LAZY = {
    "TrainResult": "training.ncf.train",
    "EpochStats": "training.ncf.train",
    "TrainingCancelled": "training.ncf.train",
    "configure_threads": "training.ncf.train",
    "framework_versions": "training.ncf.train",
    "train_ncf": "training.ncf.train",
    "WarmStart": "training.ncf.model",
    "build_model": "training.ncf.model",
    "export_weights": "training.ncf.model",
    "import_weights": "training.ncf.model",
    "grow_weights": "training.ncf.model",
    "fuse_pretrained": "training.ncf.model",
    "load_model": "training.ncf.model",
    "logit_model": "training.ncf.model",
    "save_model": "training.ncf.model",
}

if TYPE_CHECKING:
    from training.ncf.model import (
        WarmStart,
        build_model,
        export_weights,
        fuse_pretrained,
        grow_weights,
        import_weights,
        load_model,
        logit_model,
        save_model,
    )
    from training.ncf.train import (
        EpochStats,
        TrainingCancelled,
        TrainResult,
        configure_threads,
        framework_versions,
        train_ncf,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "EpochStats",
    "InteractionData",
    "NCFParams",
    "TrainResult",
    "TrainingCancelled",
    "ValidationSet",
    "WarmStart",
    "build_model",
    "configure_threads",
    "epoch_examples",
    "export_weights",
    "framework_versions",
    "fuse_pretrained",
    "grow_weights",
    "import_weights",
    "load_model",
    "logit_model",
    "merge_duplicates",
    "recency_multiplier",
    "sample_training_negatives",
    "save_model",
    "train_ncf",
    "validation_split",
]
