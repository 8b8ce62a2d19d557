"""NumPy NeuMF scorer for the request path (no TensorFlow, no Keras, no Django).

It reproduces ``training.ncf``'s Keras model from its exported weights (names and shapes are documented in
``training/ncf/model.py``): ``sigmoid([gmf_u * gmf_i | mlp(mlp_u, mlp_i)] @ out_w + out_b [+ item_bias])``.

What is precomputed at load time: the item half of the first MLP layer (``mlp_item @ W0[m:]``, so a request
only adds the user half and the bias before the first ReLU), the per-item constant part of the logit (output
bias + item bias), and per-thread scratch buffers for the all-items path. Everything is float32.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np

_EMBEDDINGS = ("gmf_user", "gmf_item", "mlp_user", "mlp_item")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """In-place, overflow-free float32 sigmoid: 0.5 * (1 + tanh(x / 2))."""
    x *= np.float32(0.5)
    np.tanh(x, out=x)
    x += np.float32(1.0)
    x *= np.float32(0.5)
    return x


def _normalise(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.maximum(norms, np.float32(1e-12))


class NeuMFScorer:
    """Scores (user, item) pairs with exported NeuMF weights.

    Methods return sigmoid probabilities by default (the Keras model's output); pass ``logit=True`` for the
    pre-sigmoid score, which orders items the same way without float32 saturation ties near 1.0.
    Instances are read-only after construction and safe to share between threads.
    """

    def __init__(self, weights: Mapping[str, np.ndarray]):
        missing = [n for n in (*_EMBEDDINGS, "out_w", "out_b") if n not in weights]
        if missing:
            raise ValueError(f"NeuMF weights lack {', '.join(missing)}")
        f32 = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}
        self.gmf_user, self.gmf_item = f32["gmf_user"], f32["gmf_item"]
        self.mlp_user, self.mlp_item = f32["mlp_user"], f32["mlp_item"]
        self.n_users, d = self.gmf_user.shape
        self.n_items, m = self.mlp_item.shape
        if self.gmf_item.shape != (self.n_items, d) or self.mlp_user.shape != (self.n_users, m):
            raise ValueError("embedding shapes disagree on n_users / n_items / width")
        n_layers = sum(1 for name in f32 if name.startswith("mlp_w"))
        self.dense = [(f32[f"mlp_w{j}"], f32[f"mlp_b{j}"]) for j in range(n_layers)]
        width = 2 * m
        for j, (w, b) in enumerate(self.dense):
            if w.shape[0] != width or b.shape != (w.shape[1],):
                raise ValueError(f"mlp_w{j} / mlp_b{j} have shapes {w.shape} / {b.shape}, expected ({width}, k) / (k,)")
            width = w.shape[1]
        out_w = f32["out_w"].reshape(-1)
        if out_w.shape != (d + width,):
            raise ValueError(f"out_w has {out_w.size} entries, expected {d + width}")
        self.gmf_out = np.ascontiguousarray(out_w[:d])
        self.mlp_out = np.ascontiguousarray(out_w[d:])
        self.embedding_dim, self.mlp_embedding_dim = d, m
        # Per-item constant part of the logit: output bias, optional item bias, and (without Dense layers) the
        # item half of the linear MLP output.
        item_const = np.full(self.n_items, f32["out_b"].reshape(-1)[0], dtype=np.float32)
        if "item_bias" in f32:
            if f32["item_bias"].size != self.n_items:
                raise ValueError(f"item_bias has {f32['item_bias'].size} entries, expected {self.n_items}")
            item_const += f32["item_bias"].reshape(-1)
        if self.dense:
            w0, self.b0 = self.dense[0]
            self.w0_user = np.ascontiguousarray(w0[:m])
            self.item_first = np.ascontiguousarray(self.mlp_item @ w0[m:])
        else:
            self.w0_user, self.b0 = None, None
            self.item_first = np.ascontiguousarray(self.mlp_item @ self.mlp_out[m:])
            item_const += self.item_first
        self.item_const = item_const
        self._local = threading.local()
        self._item_vectors: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        """Bytes held by the weight arrays and precomputed tables (not counting per-thread scratch)."""
        arrays = [self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item, self.item_first, self.item_const,
                  self.gmf_out, self.mlp_out, *(a for layer in self.dense for a in layer)]  # fmt: skip
        if self._item_vectors is not None:
            arrays.append(self._item_vectors)
        return int(sum(a.nbytes for a in arrays))

    def _check_user(self, user_index: int) -> int:
        u = int(user_index)
        if not 0 <= u < self.n_users:
            raise IndexError(f"user index {u} out of range [0, {self.n_users})")
        return u

    def _buffers(self) -> list[np.ndarray]:
        buffers = getattr(self._local, "buffers", None)
        if buffers is None:
            buffers = [np.empty((self.n_items, w.shape[1]), dtype=np.float32) for w, _ in self.dense]
            self._local.buffers = buffers
        return buffers

    def score_items(
        self, user_index: int, item_indices: np.ndarray | None = None, *, logit: bool = False
    ) -> np.ndarray:
        """Scores of one user for ``item_indices`` (``None`` = every item, in index order); a new float32 array."""
        u = self._check_user(user_index)
        if item_indices is not None:
            items = np.asarray(item_indices, dtype=np.intp)
            out = self._score(np.full(len(items), u, dtype=np.intp), items)
            return out if logit else _sigmoid(out)
        out = self.gmf_item @ (self.gmf_user[u] * self.gmf_out)
        out += self.item_const
        if not self.dense:
            out += self.mlp_user[u] @ self.mlp_out[: self.mlp_embedding_dim]
        else:
            buffers = self._buffers()
            h = buffers[0]
            np.add(self.item_first, self.mlp_user[u] @ self.w0_user + self.b0, out=h)
            np.maximum(h, 0, out=h)
            for (w, b), nxt in zip(self.dense[1:], buffers[1:], strict=True):
                np.matmul(h, w, out=nxt)
                nxt += b
                np.maximum(nxt, 0, out=nxt)
                h = nxt
            out += h @ self.mlp_out
        return out if logit else _sigmoid(out)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Logits of aligned user / item index arrays (no chunking)."""
        out = np.einsum("ij,ij->i", self.gmf_user[users] * self.gmf_out, self.gmf_item[items])
        out += self.item_const[items]
        if not self.dense:
            out += self.mlp_user[users] @ self.mlp_out[: self.mlp_embedding_dim]
        else:
            h = self.mlp_user[users] @ self.w0_user
            h += self.item_first[items]
            h += self.b0
            np.maximum(h, 0, out=h)
            for w, b in self.dense[1:]:
                h = h @ w
                h += b
                np.maximum(h, 0, out=h)
            out += h @ self.mlp_out
        return out.astype(np.float32, copy=False)

    def score_pairs(
        self, users: np.ndarray, items: np.ndarray, *, logit: bool = False, chunk_size: int = 65536
    ) -> np.ndarray:
        """Scores of aligned ``(users[j], items[j])`` pairs, computed in chunks to bound memory."""
        users = np.asarray(users, dtype=np.intp).reshape(-1)
        items = np.asarray(items, dtype=np.intp).reshape(-1)
        if users.shape != items.shape:
            raise ValueError("users and items must have the same length")
        if len(users) and (users.min() < 0 or users.max() >= self.n_users):
            raise IndexError(f"user index out of range [0, {self.n_users})")
        out = np.empty(len(users), dtype=np.float32)
        for start in range(0, len(users), chunk_size):
            stop = start + chunk_size
            out[start:stop] = self._score(users[start:stop], items[start:stop])
        return out if logit else _sigmoid(out)

    def item_embeddings(self) -> np.ndarray:
        """Unit-norm item vectors for item-item similarity (cosine = dot product) and approximate retrieval.

        Row i = ``[normalise(gmf_item[i] * sqrt|gmf_out|) | normalise(mlp_item[i] @ W0_item)] / sqrt(2)``: the GMF
        half is weighted by how much the output layer uses each factor, the MLP half is the item's contribution
        to the first hidden layer (the raw MLP embedding when the MLP has no Dense layer). Cached, read-only.
        """
        if self._item_vectors is None:
            gmf = _normalise(self.gmf_item * np.sqrt(np.abs(self.gmf_out)))
            mlp_part = self.item_first if self.dense else self.mlp_item
            mlp = _normalise(mlp_part.reshape(self.n_items, -1))
            vectors = np.concatenate([gmf, mlp], axis=1) / np.float32(np.sqrt(2.0))
            vectors = vectors.astype(np.float32)
            vectors.setflags(write=False)
            self._item_vectors = vectors
        return self._item_vectors

    def user_vector(self, user_index: int) -> np.ndarray:
        """A query vector for :meth:`item_embeddings`: ``item_embeddings() @ user_vector(u)`` approximates the score
        ordering, for candidate generation before exact re-ranking with :meth:`score_items`.

        GMF half: ``sign(gmf_out) * sqrt|gmf_out| * gmf_user[u]`` (exact up to each item's GMF norm). MLP half: the
        gradient of the MLP logit w.r.t. the item's first-layer input, taken at the average item -- a local
        linearisation of the tower. Halves are normalised and weighted like the item side.
        """
        u = self._check_user(user_index)
        gmf = self.gmf_user[u] * np.sign(self.gmf_out) * np.sqrt(np.abs(self.gmf_out))
        if not self.dense:
            mlp = self.mlp_out[self.mlp_embedding_dim :].copy()
        else:
            x = self.mlp_user[u] @ self.w0_user + self.b0 + self.item_first.mean(axis=0)
            masks = []
            for w, b in self.dense[1:]:
                masks.append(x > 0)
                x = np.maximum(x, 0) @ w + b
            grad = self.mlp_out * (x > 0)
            for (w, _), mask in zip(reversed(self.dense[1:]), reversed(masks), strict=True):
                grad = (w @ grad) * mask
            mlp = grad
        halves = [gmf / max(np.linalg.norm(gmf), 1e-12), mlp / max(np.linalg.norm(mlp), 1e-12)]
        return (np.concatenate(halves) / np.sqrt(2.0)).astype(np.float32)
