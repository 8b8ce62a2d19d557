"""Keras NeuMF model: construction, weight export/import, warm start, save/load.

Exported weight names (all float32, see :func:`export_weights`):

========== ====================== ====================================================
name       shape                  meaning
========== ====================== ====================================================
gmf_user   (n_users, d)           GMF user embedding, d = ``embedding_dim``
gmf_item   (n_items, d)           GMF item embedding
mlp_user   (n_users, m)           MLP user embedding, m = ``mlp_layers[0] // 2``
mlp_item   (n_items, m)           MLP item embedding
mlp_w{j}   (in_j, mlp_layers[j+1]) kernel of the j-th ReLU Dense layer; in_0 = 2m with rows [user m | item m]
mlp_b{j}   (mlp_layers[j+1],)     its bias
out_w      (d + mlp_layers[-1],)  output kernel over [gmf_user * gmf_item | last MLP activation]
out_b      (1,)                   output bias
item_bias  (n_items,)             per-item logit offset (only with ``NCFParams.item_bias``)
========== ====================== ====================================================

``probability = sigmoid([gmf_u * gmf_i, mlp(concat(mlp_u, mlp_i))] @ out_w + out_b [+ item_bias[i]])``; with a
single entry in ``mlp_layers`` the MLP has no Dense layer and its "last activation" is the concatenated embedding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from training.ncf.params import NCFParams

ARCHITECTURES = ("neumf", "gmf", "mlp")
EMBEDDINGS = ("gmf_user", "gmf_item", "mlp_user", "mlp_item", "item_bias")


@keras.saving.register_keras_serializable(package="training.ncf")
class Prediction(keras.layers.Layer):
    """NeuMF output layer: ``logit = gmf_vector @ h + mlp_vector @ w + b``.

    With ``learn_gmf_weights=False`` (the default of :class:`NCFParams`) ``h`` is fixed to ones, i.e. the GMF
    branch is a plain dot product. That loses no expressiveness -- any ``h`` can be folded into the embeddings,
    ``h_k p_k q_k = (sign(h_k) sqrt|h_k| p_k)(sqrt|h_k| q_k)`` -- but it makes the L2 penalty on the embeddings
    effective: with a free ``h`` the model escapes it by shrinking the embeddings and growing ``h``.
    """

    def __init__(
        self, gmf_dim: int = 0, mlp_dim: int = 0, learn_gmf_weights: bool = True, item_bias: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.gmf_dim, self.mlp_dim, self.learn_gmf_weights = gmf_dim, mlp_dim, learn_gmf_weights
        self.item_bias = item_bias

    def build(self, input_shape) -> None:
        glorot = keras.initializers.GlorotUniform(seed=7)
        if self.gmf_dim:
            gmf_init = glorot if self.learn_gmf_weights else "ones"
            self.gmf_kernel = self.add_weight(
                shape=(self.gmf_dim, 1), initializer=gmf_init, name="gmf_kernel", trainable=self.learn_gmf_weights
            )
        if self.mlp_dim:
            self.mlp_kernel = self.add_weight(shape=(self.mlp_dim, 1), initializer=glorot, name="mlp_kernel")
        self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")

    def call(self, inputs):
        inputs = list(inputs) if isinstance(inputs, list | tuple) else [inputs]
        out = self.bias
        if self.gmf_dim:
            out = out + keras.ops.matmul(inputs.pop(0), self.gmf_kernel)
        if self.mlp_dim:
            out = out + keras.ops.matmul(inputs.pop(0), self.mlp_kernel)
        if self.item_bias:
            out = out + inputs.pop(0)
        return out

    def compute_output_shape(self, input_shape):
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0], 1)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "gmf_dim": self.gmf_dim,
            "mlp_dim": self.mlp_dim,
            "learn_gmf_weights": self.learn_gmf_weights,
            "item_bias": self.item_bias,
        }

    @property
    def out_w(self) -> np.ndarray:
        parts = []
        if self.gmf_dim:
            parts.append(self.gmf_kernel.numpy().reshape(-1))
        if self.mlp_dim:
            parts.append(self.mlp_kernel.numpy().reshape(-1))
        return np.concatenate(parts).astype(np.float32)

    def set_out_w(self, out_w: np.ndarray, out_b: np.ndarray) -> None:
        out_w = np.asarray(out_w, dtype=np.float32).reshape(-1)
        if self.gmf_dim:
            self.gmf_kernel.assign(out_w[: self.gmf_dim].reshape(-1, 1))
        if self.mlp_dim:
            self.mlp_kernel.assign(out_w[self.gmf_dim :].reshape(-1, 1))
        self.bias.assign(np.asarray(out_b, dtype=np.float32).reshape(1))


def build_model(n_users: int, n_items: int, params: NCFParams, architecture: str = "neumf") -> keras.Model:
    """Build an uncompiled NeuMF (or its GMF / MLP half for pre-training) with named layers.

    Inputs are int32 user and item index vectors; the output is the probability, shape ``(batch, 1)``. The
    logit is the output of the layer named ``prediction``.
    """
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}")
    init = keras.initializers.RandomNormal(stddev=params.init_std, seed=params.seed)
    user = keras.Input(shape=(), dtype="int32", name="user")
    item = keras.Input(shape=(), dtype="int32", name="item")
    branches, gmf_dim, mlp_dim = [], 0, 0
    if architecture in ("neumf", "gmf"):
        gmf_dim = params.embedding_dim
        gmf_u = keras.layers.Embedding(n_users, gmf_dim, embeddings_initializer=init, name="gmf_user")
        gmf_i = keras.layers.Embedding(n_items, gmf_dim, embeddings_initializer=init, name="gmf_item")
        branches.append(keras.layers.Multiply(name="gmf")([gmf_u(user), gmf_i(item)]))
    if architecture in ("neumf", "mlp"):
        m = params.mlp_embedding_dim
        mlp_u = keras.layers.Embedding(n_users, m, embeddings_initializer=init, name="mlp_user")
        mlp_i = keras.layers.Embedding(n_items, m, embeddings_initializer=init, name="mlp_item")
        x = keras.layers.Concatenate(name="mlp_input")([mlp_u(user), mlp_i(item)])
        for j, width in enumerate(params.mlp_layers[1:]):
            dense_init = keras.initializers.GlorotUniform(seed=params.seed + 1 + j)
            x = keras.layers.Dense(width, activation="relu", kernel_initializer=dense_init, name=f"mlp_{j}")(x)
        branches.append(x)
        mlp_dim = params.mlp_layers[-1] if len(params.mlp_layers) > 1 else 2 * m
    if params.item_bias:
        bias = keras.layers.Embedding(n_items, 1, embeddings_initializer="zeros", name="item_bias")(item)
        branches.append(bias)
    head = Prediction(
        gmf_dim, mlp_dim, learn_gmf_weights=params.learn_gmf_weights, item_bias=params.item_bias, name="prediction"
    )
    logit = head(branches)
    prob = keras.layers.Activation("sigmoid", name="probability")(logit)
    return keras.Model([user, item], prob, name=architecture)


def _mlp_dense_layers(model: keras.Model) -> list[keras.layers.Dense]:
    layers = [layer for layer in model.layers if layer.name.startswith("mlp_") and layer.name[4:].isdigit()]
    return sorted(layers, key=lambda layer: int(layer.name[4:]))


def _has_layer(model: keras.Model, name: str) -> bool:
    return any(layer.name == name for layer in model.layers)


def export_weights(model: keras.Model) -> dict[str, np.ndarray]:
    """Weights under the stable names of the module docstring (a NeuMF model, or a GMF/MLP half)."""
    out: dict[str, np.ndarray] = {}
    for name in EMBEDDINGS:
        if _has_layer(model, name):
            out[name] = np.asarray(model.get_layer(name).embeddings.numpy(), dtype=np.float32)
    if "item_bias" in out:
        out["item_bias"] = out["item_bias"].reshape(-1)
    for j, layer in enumerate(_mlp_dense_layers(model)):
        kernel, bias = layer.get_weights()
        out[f"mlp_w{j}"] = np.asarray(kernel, dtype=np.float32)
        out[f"mlp_b{j}"] = np.asarray(bias, dtype=np.float32)
    head = model.get_layer("prediction")
    out["out_w"] = head.out_w
    out["out_b"] = np.asarray(head.bias.numpy(), dtype=np.float32).reshape(1)
    return out


def import_weights(model: keras.Model, weights: Mapping[str, np.ndarray]) -> None:
    """Load exported weights into a model of the same architecture and sizes (``ValueError`` on mismatch)."""
    expected = export_weights(model)
    missing = sorted(set(expected) - set(weights))
    if missing:
        raise ValueError(f"weights lack {', '.join(missing)}")
    for name, current in expected.items():
        if np.shape(weights[name]) != current.shape:
            raise ValueError(f"weight {name} has shape {np.shape(weights[name])}, the model needs {current.shape}")
    values = {name: np.asarray(weights[name], dtype=np.float32) for name in expected}
    head = model.get_layer("prediction")
    if head.gmf_dim and not head.learn_gmf_weights:
        # Fixed GMF output weights: fold the incoming h into both GMF embeddings, split symmetrically.
        h = values["out_w"][: head.gmf_dim]
        values["gmf_user"] = values["gmf_user"] * (np.sign(h) * np.sqrt(np.abs(h)))
        values["gmf_item"] = values["gmf_item"] * np.sqrt(np.abs(h))
        values["out_w"] = np.concatenate([np.ones_like(h), values["out_w"][head.gmf_dim :]])
    for name in EMBEDDINGS:
        if name in expected:
            model.get_layer(name).embeddings.assign(values[name].reshape(model.get_layer(name).embeddings.shape))
    for j, layer in enumerate(_mlp_dense_layers(model)):
        layer.set_weights([values[f"mlp_w{j}"], values[f"mlp_b{j}"]])
    head.set_out_w(values["out_w"], values["out_b"])


def fuse_pretrained(gmf: Mapping[str, np.ndarray], mlp: Mapping[str, np.ndarray], alpha: float = 0.5) -> dict:
    """NeuMF weights from pre-trained GMF and MLP halves: output layer = [alpha * gmf_out | (1-alpha) * mlp_out]."""
    fused = {k: v for k, v in gmf.items() if k.startswith("gmf_")}
    fused.update({k: v for k, v in mlp.items() if k.startswith("mlp_")})
    fused["out_w"] = np.concatenate([alpha * gmf["out_w"], (1 - alpha) * mlp["out_w"]]).astype(np.float32)
    fused["out_b"] = (alpha * gmf["out_b"] + (1 - alpha) * mlp["out_b"]).astype(np.float32)
    if "item_bias" in gmf and "item_bias" in mlp:
        fused["item_bias"] = (alpha * gmf["item_bias"] + (1 - alpha) * mlp["item_bias"]).astype(np.float32)
    return fused


@dataclass(frozen=True)
class WarmStart:
    """A previous version's exported weights plus, for every new dense index, its old index (or -1 if new)."""

    weights: Mapping[str, np.ndarray]
    user_old_index: np.ndarray
    item_old_index: np.ndarray


def grow_weights(fresh: Mapping[str, np.ndarray], warm_start: WarmStart) -> dict[str, np.ndarray]:
    """Map old embedding rows onto the new index space; new users/items keep their fresh initialisation.

    ``fresh`` are the exported weights of a newly initialised model of the new sizes. Dense layers are copied
    from the old weights as they are, so the architecture must be unchanged.
    """
    old = warm_start.weights
    index = {"user": np.asarray(warm_start.user_old_index), "item": np.asarray(warm_start.item_old_index)}
    sides = {"gmf_user": "user", "mlp_user": "user", "gmf_item": "item", "mlp_item": "item", "item_bias": "item"}
    grown = dict(fresh)
    for name, target in fresh.items():
        if name not in old:
            raise ValueError(f"warm-start weights lack {name}")
        source = np.asarray(old[name], dtype=np.float32)
        side = sides.get(name, "")
        if side in index:
            mapping = index[side]
            if len(mapping) != target.shape[0]:
                raise ValueError(f"{side}_old_index has {len(mapping)} entries, the model has {target.shape[0]} rows")
            if source.shape[1:] != target.shape[1:]:
                raise ValueError(f"warm-start {name} has width {source.shape[1:]}, the model needs {target.shape[1:]}")
            if mapping.size and mapping.max() >= source.shape[0]:
                raise ValueError(f"{side}_old_index points past the {source.shape[0]} rows of the old {name}")
            rows = np.array(target, dtype=np.float32, copy=True)
            kept = mapping >= 0
            rows[kept] = source[mapping[kept]]
            grown[name] = rows
        else:
            if source.shape != target.shape:
                raise ValueError(f"warm-start {name} has shape {source.shape}, the model needs {target.shape}")
            grown[name] = source
    return grown


def save_model(model: keras.Model, path: str | Path) -> None:
    """Save the Keras model as a ``.keras`` file (the extension is required by Keras)."""
    model.save(str(path))


def load_model(path: str | Path) -> keras.Model:
    """Load a model written by :func:`save_model` (no custom objects are involved)."""
    return keras.models.load_model(str(path), compile=False)


def logit_model(model: keras.Model) -> keras.Model:
    """A model sharing ``model``'s layers that outputs the pre-sigmoid logit, shape ``(batch, 1)``."""
    return keras.Model(model.inputs, model.get_layer("prediction").output)


__all__ = [
    "WarmStart",
    "build_model",
    "export_weights",
    "fuse_pretrained",
    "grow_weights",
    "import_weights",
    "load_model",
    "logit_model",
    "save_model",
]
