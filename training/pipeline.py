"""One training run, from indexed data to a scored model (no Django here; TensorFlow only via `training.ncf`).

1. Hold out each user's latest interaction (the *holdout*), used only for the reported metrics.
2. From what is left, hold out each user's latest remaining interaction again (the *validation* split):
   early stopping picks the epoch on it, never on the holdout.
3. Train NeuMF on the rest; score the holdout two ways with the NumPy scorer that serving uses:
   the NCF protocol (rank among sampled negatives) and the full catalog (rank among every unseen item).
4. Score the popularity baseline, and the active model if there is one, on the very same holdout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recommendations.scoring import NeuMFScorer
from training.evaluation import (
    full_catalog_metrics,
    leave_one_out,
    ncf_protocol_metrics,
    popularity_scores,
    positive_keys,
    sample_negatives,
)
from training.ncf import InteractionData, NCFParams, ValidationSet, recency_multiplier

MIN_HOLDOUT_USERS = 5
MAX_EVAL_NEGATIVES = 99
FULL_CATALOG_MAX_USERS = 10_000


class InsufficientData(Exception):
    """Too little data to train or to measure a model; the message says what is missing."""


@dataclass
class ActiveModel:
    """The version currently serving, as needed to score it on a new holdout."""

    version: int
    weights: dict[str, np.ndarray]
    user_ids: list[str]
    item_ids: list[str]
    data_until: float | None = None  # epoch seconds of the newest event it was trained on


@dataclass
class RunResult:
    weights: dict[str, np.ndarray]
    keras_model: Any
    params: NCFParams
    metrics: dict[str, Any]
    history: list[dict[str, Any]]
    best_epoch: int
    training_seconds: float
    active_metrics: dict[str, float] | None = None
    notes: list[str] = field(default_factory=list)


def _eligible(keys: np.ndarray, users: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """Users with at least k + 1 items they never interacted with (room for k negatives)."""
    seen = np.searchsorted(keys, (users.astype(np.int64) + 1) * n_items) - np.searchsorted(
        keys, users.astype(np.int64) * n_items
    )
    return (n_items - seen - 1) >= k


def _negatives_per_positive(n_items: int) -> int:
    return int(min(MAX_EVAL_NEGATIVES, max(1, n_items // 2)))


def split(user_idx: np.ndarray, item_idx: np.ndarray, order: np.ndarray, n_items: int, *, seed: int, k: int):
    """Leave-one-out with sampled negatives for the users that can have them.

    Returns the training mask, the held-out users, items and negatives, and the held-out rows' indices (in
    the same order). A user with too few unseen items to rank against keeps their row for training."""
    train_mask, users, items = leave_one_out(user_idx, item_idx, order)
    held = np.flatnonzero(~train_mask)
    held = held[np.argsort(user_idx[held], kind="stable")]  # leave_one_out lists the held-out users in order
    keys = positive_keys(user_idx, item_idx, n_items)
    ok = _eligible(keys, users, n_items, k)
    train_mask[held[~ok]] = True
    users, items, held = users[ok], items[ok], held[ok]
    negatives = sample_negatives(users, items, keys, n_items, k=k, seed=seed) if len(users) else np.zeros((0, k))
    return train_mask, users, items, negatives, held


def run(
    *,
    user_idx: np.ndarray,
    item_idx: np.ndarray,
    weights: np.ndarray,
    order: np.ndarray,
    n_users: int,
    n_items: int,
    params: NCFParams,
    on_epoch: Callable[[int, int, float, float | None], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    warm_start=None,
    active: ActiveModel | None = None,
    user_ids: np.ndarray | None = None,
    item_ids: np.ndarray | None = None,
    first_at: np.ndarray | None = None,
) -> RunResult:
    from training.ncf import train_ncf

    k = _negatives_per_positive(n_items)
    # Recent interactions weigh more (before the splits: each user's latest rows keep their weight in the refit).
    weights = weights * recency_multiplier(user_idx, order, boost=params.recency_boost, tau=params.recency_tau)
    if n_items < 3:
        raise InsufficientData(f"Only {n_items} item(s) have interactions; at least 3 are needed.")
    train_mask, hold_u, hold_i, hold_neg, hold_rows = split(user_idx, item_idx, order, n_items, seed=params.seed, k=k)
    if len(hold_u) < MIN_HOLDOUT_USERS:
        raise InsufficientData(
            f"Only {len(hold_u)} user(s) have two or more interactions (and unseen items to rank against); "
            f"at least {MIN_HOLDOUT_USERS} are needed to measure a model."
        )
    train = InteractionData(user_idx[train_mask], item_idx[train_mask], weights[train_mask], n_users, n_items)
    fit_mask, val_u, val_i, val_neg, val_rows = split(
        train.user_idx, train.item_idx, order[train_mask], n_items, seed=params.seed + 1, k=k
    )
    # The validation rows keep their confidence weights for the refit on all the training data.
    validation = (
        ValidationSet(val_u, val_i, val_neg, train.weights[val_rows]) if len(val_u) >= MIN_HOLDOUT_USERS else None
    )
    fit = train.subset(fit_mask) if validation is not None else train
    notes = []
    if validation is None:
        notes.append(f"Too few users for a validation split: trained a fixed {params.epochs} epochs.")

    # The refit (trained for the epochs the validation split chose) also sees the holdout, so that the served
    # model knows every user's latest interactions; the holdout measures the selection run's model, which
    # never saw it nor the validation rows (a slightly pessimistic figure for the served model).
    holdout = InteractionData(user_idx[hold_rows], item_idx[hold_rows], weights[hold_rows], n_users, n_items)
    result = train_ncf(fit, params, validation=validation, on_epoch=on_epoch, warm_start=warm_start,
                       should_stop=should_stop, refit_extra=holdout)  # fmt: skip
    measured = result.selection_weights if result.selection_weights is not None else result.weights
    scorer = NeuMFScorer(measured)
    popularity = popularity_scores(np.bincount(train.item_idx, minlength=n_items).astype(np.float64))

    metrics: dict[str, Any] = {
        "holdout_users": int(len(hold_u)),
        "negatives_per_positive": k,
        "measured_model": "selection" if result.selection_weights is not None else "served",
    }
    metrics.update(_score_both(lambda u, i: scorer.score_pairs(u, i, logit=True), _user_rows(scorer), train,
                               hold_u, hold_i, hold_neg))  # fmt: skip
    for name, value in _score_both(popularity.score_pairs, popularity.score_users, train, hold_u, hold_i,
                                   hold_neg).items():  # fmt: skip
        metrics[f"popularity_{name}"] = value
    metrics["validation_hr_at_10"] = result.best_val_hr
    metrics["validation_ndcg_at_10"] = result.best_val_ndcg

    active_metrics = None
    if active is not None and user_ids is not None and item_ids is not None:
        # A held-out pair the active model already trained on (a view before its training, a purchase of the
        # same item after) would favour it; both models are compared on the pairs that are new to it.
        fair = np.ones(len(hold_u), dtype=bool)
        if first_at is not None and active.data_until is not None:
            fair = first_at[hold_rows] > active.data_until
        if fair.sum() < MIN_HOLDOUT_USERS:
            # The active model trained on (nearly) every held-out pair: no fair comparison is possible.
            notes.append(
                f"Only {int(fair.sum())} held-out interaction(s) are newer than v{active.version}'s data, too few to "
                f"compare the two models fairly (v{active.version} trained on the others)."
            )
            return _result(result, metrics, notes, {"compared_users": int(fair.sum())})
        active_metrics = score_active(
            active, user_ids, item_ids, popularity.scores, hold_u[fair], hold_i[fair], hold_neg[fair]
        )
        mine = ncf_protocol_metrics(
            lambda u, i: scorer.score_pairs(u, i, logit=True), hold_u[fair], hold_i[fair], hold_neg[fair]
        )
        active_metrics.update({f"candidate_{name}": value for name, value in mine.items()})
        active_metrics["compared_users"] = int(fair.sum())
    return _result(result, metrics, notes, active_metrics)


def _result(result, metrics: dict[str, Any], notes: list[str], active_metrics: dict | None) -> RunResult:
    history = [
        {"phase": s.phase, "epoch": s.epoch, "loss": s.loss, "val_hr": s.val_hr, "val_ndcg": s.val_ndcg,
         "seconds": round(s.seconds, 3)}
        for s in result.history
    ]  # fmt: skip
    return RunResult(
        weights=result.weights,
        keras_model=result.model,
        params=result.params,
        metrics=metrics,
        history=history,
        best_epoch=result.best_epoch,
        training_seconds=result.seconds,
        active_metrics=active_metrics,
        notes=notes,
    )


def _user_rows(scorer: NeuMFScorer) -> Callable[[np.ndarray], np.ndarray]:
    def rows(users: np.ndarray) -> np.ndarray:
        return np.stack([scorer.score_items(int(u), logit=True) for u in users])

    return rows


def _score_both(pair_fn, rows_fn, train: InteractionData, hold_u, hold_i, hold_neg) -> dict[str, float]:
    metrics = ncf_protocol_metrics(pair_fn, hold_u, hold_i, hold_neg)
    if len(hold_u) > FULL_CATALOG_MAX_USERS:
        # Bounded cost for very large tenants: a fixed, seeded sample of the holdout users.
        pick = np.sort(np.random.default_rng(0).choice(len(hold_u), FULL_CATALOG_MAX_USERS, replace=False))
        hold_u, hold_i = hold_u[pick], hold_i[pick]
    full = full_catalog_metrics(rows_fn, train.keys, hold_u, hold_i, n_items=train.n_items)
    metrics.update({f"full_{name}": value for name, value in full.items()})
    return metrics


def score_active(
    active: ActiveModel,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    popularity: np.ndarray,
    hold_u: np.ndarray,
    hold_i: np.ndarray,
    hold_neg: np.ndarray,
) -> dict[str, float]:
    """The active model on the new holdout, as it would serve: users it does not know get popularity,
    items it does not know can never be ranked by it."""
    scorer = NeuMFScorer(active.weights)
    old_user = {uid: j for j, uid in enumerate(active.user_ids)}
    old_item = {iid: j for j, iid in enumerate(active.item_ids)}
    user_map = np.array([old_user.get(uid, -1) for uid in user_ids], dtype=np.int64)
    item_map = np.array([old_item.get(iid, -1) for iid in item_ids], dtype=np.int64)

    def pair_fn(users: np.ndarray, items: np.ndarray) -> np.ndarray:
        old_u, old_i = user_map[users], item_map[items]
        known = (old_u >= 0) & (old_i >= 0)
        scores = np.where(old_u < 0, popularity[items], -1e9).astype(np.float64)
        if known.any():
            scores[known] = scorer.score_pairs(old_u[known], old_i[known], logit=True)
        return scores

    return ncf_protocol_metrics(pair_fn, hold_u, hold_i, hold_neg)
