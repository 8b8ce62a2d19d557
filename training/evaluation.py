"""Offline evaluation for implicit-feedback recommenders (pure NumPy, no TensorFlow, no Django).

Two protocols are provided:

* the NCF protocol (He et al., WWW 2017): each held-out positive is ranked among ``k`` sampled negatives
  (99 in the paper) and HR@10 / NDCG@10 are averaged over users;
* a full-catalog protocol: the held-out positive is ranked among every item the user has not interacted
  with in training, which is closer to what the service does in production.

Tie rule (both protocols): ties are counted *pessimistically* -- an item that scores exactly as high as the
held-out positive is ranked above it. A negative that is the positive item itself (the official ML-1M
``test.negative`` file has 156 such lines) is ignored, as in the reference implementation, which keys
scores by item id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

PairScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``score_fn(users, items) -> scores``: one score per (user, item) pair, higher = better."""

UserScoreFn = Callable[[np.ndarray], np.ndarray]
"""``scorer_fn(users) -> scores``: a dense ``(len(users), n_items)`` score matrix, higher = better."""

Positives = np.ndarray | sp.spmatrix | sp.sparray


def leave_one_out(
    user_idx: np.ndarray, item_idx: np.ndarray, order: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hold out each user's latest interaction.

    ``order`` (e.g. timestamps) defines "latest"; ties -- and ``order=None`` -- are broken by the later row
    position. Only users with at least two interactions get a hold-out, so every user keeps a training row.

    Returns ``(train_mask, holdout_users, holdout_items)``: a boolean mask over the input rows that is False
    exactly on the held-out rows, and the held-out pairs sorted by user.
    """
    user_idx = np.asarray(user_idx)
    item_idx = np.asarray(item_idx)
    n = len(user_idx)
    position = np.arange(n)
    order = position if order is None else np.asarray(order)
    # lexsort: the last key is the primary one -> rows grouped by user, then by order, then by position.
    sorted_rows = np.lexsort((position, order, user_idx))
    sorted_users = user_idx[sorted_rows]
    is_last = np.ones(n, dtype=bool)
    is_last[:-1] = sorted_users[:-1] != sorted_users[1:]
    last_rows = sorted_rows[is_last]
    counts = np.bincount(user_idx, minlength=int(user_idx.max()) + 1 if n else 0)
    last_rows = last_rows[counts[user_idx[last_rows]] >= 2]
    train_mask = np.ones(n, dtype=bool)
    train_mask[last_rows] = False
    return train_mask, user_idx[last_rows], item_idx[last_rows]


def positive_keys(user_idx: np.ndarray, item_idx: np.ndarray, n_items: int) -> np.ndarray:
    """Sorted unique int64 keys ``user * n_items + item``: a compact set of positives for membership tests."""
    keys = np.asarray(user_idx, dtype=np.int64) * n_items + np.asarray(item_idx, dtype=np.int64)
    return np.unique(keys)


def _as_keys(positives: Positives, n_items: int) -> np.ndarray:
    if sp.issparse(positives):
        csr = sp.csr_matrix(positives)
        rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        return positive_keys(rows, csr.indices, n_items)
    return np.asarray(positives, dtype=np.int64)


def contains(keys: np.ndarray, users: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """Vectorised membership test of (user, item) pairs in a sorted key array from :func:`positive_keys`."""
    query = np.asarray(users, dtype=np.int64) * n_items + np.asarray(items, dtype=np.int64)
    if len(keys) == 0:
        return np.zeros(query.shape, dtype=bool)
    pos = np.searchsorted(keys, query)
    return keys[np.minimum(pos, len(keys) - 1)] == query


def _duplicate_in_row(matrix: np.ndarray) -> np.ndarray:
    """Boolean mask marking every repeated value in a row except its first occurrence (in sorted order)."""
    order = np.argsort(matrix, axis=1, kind="stable")
    sorted_vals = np.take_along_axis(matrix, order, axis=1)
    dup_sorted = np.zeros(matrix.shape, dtype=bool)
    dup_sorted[:, 1:] = sorted_vals[:, 1:] == sorted_vals[:, :-1]
    dup = np.zeros(matrix.shape, dtype=bool)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup


def sample_negatives(
    holdout_users: np.ndarray,
    holdout_items: np.ndarray,
    positives: Positives,
    n_items: int,
    k: int = 99,
    seed: int = 0,
) -> np.ndarray:
    """Sample ``k`` distinct negatives per held-out pair, never a positive of that user nor the held-out item.

    ``positives`` is either a CSR-like user x item matrix or a sorted key array from :func:`positive_keys`.
    Sampling is uniform and vectorised with rejection: collisions are redrawn until none is left.
    Users with fewer than ``k`` unseen items cannot be served and raise ``ValueError``.
    """
    users = np.asarray(holdout_users, dtype=np.int64)
    held = np.asarray(holdout_items, dtype=np.int64)
    keys = _as_keys(positives, n_items)
    if len(users):
        seen = np.searchsorted(keys, (users + 1) * n_items) - np.searchsorted(keys, users * n_items)
        if np.any(n_items - seen - 1 < k):
            raise ValueError(f"some users have fewer than k={k} unseen items to sample from")
    rng = np.random.default_rng(seed)
    negatives = rng.integers(0, n_items, size=(len(users), k), dtype=np.int64)
    row_users = np.broadcast_to(users[:, None], negatives.shape)
    bad = contains(keys, row_users, negatives, n_items) | (negatives == held[:, None]) | _duplicate_in_row(negatives)
    while bad.any():
        negatives[bad] = rng.integers(0, n_items, size=int(bad.sum()), dtype=np.int64)
        bad = (
            contains(keys, row_users, negatives, n_items) | (negatives == held[:, None]) | _duplicate_in_row(negatives)
        )
    return negatives.astype(np.int32)


def _rank_metrics(ranks: np.ndarray, k: int) -> dict[str, float]:
    hits = ranks < k
    ndcg = np.where(hits, 1.0 / np.log2(ranks + 2.0), 0.0)
    return {
        f"hr_at_{k}": float(hits.mean()) if len(ranks) else 0.0,
        f"ndcg_at_{k}": float(ndcg.mean()) if len(ranks) else 0.0,
    }


def ncf_protocol_ranks(
    score_fn: PairScoreFn,
    users: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    batch_size: int = 100_000,
) -> np.ndarray:
    """0-based rank of each positive among itself and its row of negatives (pessimistic ties)."""
    users = np.asarray(users)
    positives = np.asarray(positives)
    negatives = np.asarray(negatives)
    n, k = negatives.shape
    items = np.concatenate([positives[:, None], negatives], axis=1)
    flat_users = np.repeat(users, k + 1)
    flat_items = items.reshape(-1)
    scores = np.empty(flat_items.shape, dtype=np.float64)
    for start in range(0, len(flat_items), batch_size):
        stop = start + batch_size
        scores[start:stop] = np.asarray(score_fn(flat_users[start:stop], flat_items[start:stop])).reshape(-1)
    scores = scores.reshape(n, k + 1)
    beats = (scores[:, 1:] >= scores[:, :1]) & (negatives != positives[:, None])
    return beats.sum(axis=1)


def ncf_protocol_metrics(
    score_fn: PairScoreFn,
    users: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    k: int = 10,
    batch_size: int = 100_000,
) -> dict[str, float]:
    """HR@k and NDCG@k of the NCF protocol: ``{"hr_at_10": ..., "ndcg_at_10": ...}`` for the default k.

    ``negatives`` is ``(n, m)``: row ``j`` holds the negatives of the pair ``(users[j], positives[j])``.
    ``score_fn`` is called on flat chunks of at most ``batch_size`` pairs.
    """
    return _rank_metrics(ncf_protocol_ranks(score_fn, users, positives, negatives, batch_size), k)


def full_catalog_metrics(
    scorer_fn: UserScoreFn,
    train_positives: Positives,
    holdout_users: np.ndarray,
    holdout_items: np.ndarray,
    n_items: int | None = None,
    k: int = 10,
    batch_size: int = 512,
) -> dict[str, float]:
    """Rank each held-out item among all items the user did not interact with in training.

    ``train_positives`` is a user x item CSR matrix (or sorted keys from :func:`positive_keys` together with
    ``n_items``). Seen items are excluded from both the ranking and the top-k list; the held-out item itself
    is never excluded. Returns ``hr_at_k``, ``ndcg_at_k`` and ``coverage`` = distinct items appearing in the
    evaluated users' top-k lists / ``n_items``.
    """
    users = np.asarray(holdout_users, dtype=np.int64)
    held = np.asarray(holdout_items, dtype=np.int64)
    if sp.issparse(train_positives):
        csr = sp.csr_matrix(train_positives)
        n_items = csr.shape[1] if n_items is None else n_items
    else:
        if n_items is None:
            raise ValueError("n_items is required when train_positives is a key array")
        keys = np.asarray(train_positives, dtype=np.int64)
        rows, cols = np.divmod(keys, n_items)
        n_rows = int(max(rows.max(initial=-1), users.max(initial=-1))) + 1
        csr = sp.csr_matrix((np.ones(len(keys), dtype=np.int8), (rows, cols)), shape=(n_rows, n_items))
    ranks = np.empty(len(users), dtype=np.int64)
    in_top = np.zeros(n_items, dtype=bool)
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        batch_held = held[start : start + batch_size]
        scores = np.array(scorer_fn(batch), dtype=np.float64, copy=True).reshape(len(batch), n_items)
        row = np.arange(len(batch))
        pos_scores = scores[row, batch_held]
        sub = csr[batch]
        seen_rows = np.repeat(row, np.diff(sub.indptr))
        scores[seen_rows, sub.indices] = -np.inf
        scores[row, batch_held] = -np.inf
        ranks[start : start + len(batch)] = (scores >= pos_scores[:, None]).sum(axis=1)
        scores[row, batch_held] = pos_scores
        top = np.argpartition(-scores, min(k, n_items - 1), axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        in_top[top[np.isfinite(top_scores)]] = True
    result = _rank_metrics(ranks, k)
    result["coverage"] = float(in_top.sum() / n_items) if n_items else 0.0
    return result


@dataclass(frozen=True)
class PopularityModel:
    """Most-popular baseline: every user gets the same item scores (training interaction counts)."""

    scores: np.ndarray

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.scores[np.asarray(items)]

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.scores, (len(users), len(self.scores)))


def popularity_scores(item_counts: np.ndarray) -> PopularityModel:
    """Popularity baseline from per-item training counts (or summed weights); use ``score_pairs`` with
    :func:`ncf_protocol_metrics` and ``score_users`` with :func:`full_catalog_metrics`."""
    return PopularityModel(np.asarray(item_counts, dtype=np.float64))
