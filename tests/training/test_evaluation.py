"""Offline metrics: hand-computed HR/NDCG, leave-one-out, negative sampling, full-catalog ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from training.evaluation import (
    contains,
    full_catalog_metrics,
    leave_one_out,
    ncf_protocol_metrics,
    ncf_protocol_ranks,
    popularity_scores,
    positive_keys,
    sample_negatives,
)


def table_scorer(table: np.ndarray):
    return lambda users, items: table[users, items]


def test_ncf_protocol_hand_computed():
    # 3 users, 12 items; the positive is item 0, negatives are items 1..11.
    scores = np.zeros((3, 12))
    scores[0] = [5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # rank 0
    scores[1] = [5, 9, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1]  # rank 2
    scores[2] = [0, *range(1, 12)]  # rank 11 -> miss at 10
    users = np.arange(3)
    positives = np.zeros(3, dtype=int)
    negatives = np.tile(np.arange(1, 12), (3, 1))
    ranks = ncf_protocol_ranks(table_scorer(scores), users, positives, negatives)
    np.testing.assert_array_equal(ranks, [0, 2, 11])
    metrics = ncf_protocol_metrics(table_scorer(scores), users, positives, negatives)
    assert metrics["hr_at_10"] == pytest.approx(2 / 3)
    assert metrics["ndcg_at_10"] == pytest.approx((1.0 + 1.0 / math.log2(4)) / 3)


def test_ncf_protocol_ties_are_pessimistic_and_the_positive_itself_is_ignored():
    scores = np.array([[1.0, 1.0, 0.0, 2.0]])
    # negative 1 ties with the positive (counts against it), negative 3 beats it, negative 0 is the positive.
    ranks = ncf_protocol_ranks(table_scorer(scores), np.array([0]), np.array([0]), np.array([[1, 2, 3, 0]]))
    np.testing.assert_array_equal(ranks, [2])


def test_ncf_protocol_cutoff_k():
    scores = np.array([[0.5, 0.9, 0.1]])
    m = ncf_protocol_metrics(table_scorer(scores), np.array([0]), np.array([0]), np.array([[1, 2]]), k=1)
    assert m == {"hr_at_1": 0.0, "ndcg_at_1": 0.0}
    m = ncf_protocol_metrics(table_scorer(scores), np.array([0]), np.array([0]), np.array([[1, 2]]), k=2)
    assert m["hr_at_2"] == 1.0
    assert m["ndcg_at_2"] == pytest.approx(1 / math.log2(3))


def test_leave_one_out_picks_the_latest_and_breaks_ties_by_position():
    users = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    items = np.array([10, 11, 12, 20, 21, 30, 40, 41])
    order = np.array([5, 9, 1, 7, 7, 3, 2, 1])  # user 1 ties -> later row (item 21) wins
    mask, hu, hi = leave_one_out(users, items, order)
    np.testing.assert_array_equal(hu, [0, 1, 3])  # user 2 has a single interaction: no hold-out
    np.testing.assert_array_equal(hi, [11, 21, 40])
    np.testing.assert_array_equal(mask, [True, False, True, True, False, True, False, True])


def test_leave_one_out_without_order_uses_row_position():
    mask, hu, hi = leave_one_out(np.array([1, 0, 1, 0]), np.array([5, 6, 7, 8]))
    np.testing.assert_array_equal(hu, [0, 1])
    np.testing.assert_array_equal(hi, [8, 7])
    np.testing.assert_array_equal(mask, [True, True, False, False])


def test_sample_negatives_avoids_positives_and_repeats():
    rng = np.random.default_rng(0)
    n_users, n_items = 30, 60
    users = rng.integers(0, n_users, 600)
    items = rng.integers(0, n_items, 600)
    keys = positive_keys(users, items, n_items)
    hu = np.arange(n_users)
    hi = np.full(n_users, 59)
    negatives = sample_negatives(hu, hi, keys, n_items, k=20, seed=3)
    assert negatives.shape == (n_users, 20)
    assert not contains(keys, np.repeat(hu, 20), negatives.reshape(-1), n_items).any()
    assert not (negatives == 59).any()
    assert all(len(set(row)) == 20 for row in negatives.tolist())
    np.testing.assert_array_equal(negatives, sample_negatives(hu, hi, keys, n_items, k=20, seed=3))
    csr = sp.csr_matrix((np.ones(len(keys)), (keys // n_items, keys % n_items)), shape=(n_users, n_items))
    np.testing.assert_array_equal(negatives, sample_negatives(hu, hi, csr, n_items, k=20, seed=3))


def test_sample_negatives_rejects_impossible_requests():
    keys = positive_keys(np.zeros(8, dtype=int), np.arange(8), 10)
    with pytest.raises(ValueError, match="fewer than k"):
        sample_negatives(np.array([0]), np.array([9]), keys, 10, k=2)


def test_full_catalog_excludes_seen_items():
    n_items = 6
    # Train positives: user 0 saw items 0, 1; user 1 saw item 5.
    train = sp.csr_matrix((np.ones(3), ([0, 0, 1], [0, 1, 5])), shape=(2, n_items))
    scores = np.array([[9.0, 8.0, 1.0, 7.0, 2.0, 0.0], [0.0, 1.0, 2.0, 3.0, 4.0, 9.0]])
    holdout_users, holdout_items = np.array([0, 1]), np.array([3, 3])
    m = full_catalog_metrics(lambda u: scores[u], train, holdout_users, holdout_items, k=1)
    # user 0: items 0, 1 are seen -> item 3 is first; user 1: item 5 seen, item 4 beats item 3 -> rank 1.
    assert m["hr_at_1"] == 0.5
    assert m["ndcg_at_1"] == 0.5
    assert m["coverage"] == pytest.approx(2 / n_items)  # top-1 lists: {3}, {4}
    keys = positive_keys(np.array([0, 0, 1]), np.array([0, 1, 5]), n_items)
    assert full_catalog_metrics(lambda u: scores[u], keys, holdout_users, holdout_items, n_items=n_items, k=1) == m


def test_full_catalog_never_hides_the_held_out_item():
    train = sp.csr_matrix((np.ones(2), ([0, 0], [0, 2])), shape=(1, 4))
    scores = np.array([[0.0, 1.0, 5.0, 2.0]])
    m = full_catalog_metrics(lambda u: scores[u], train, np.array([0]), np.array([2]), k=1)
    assert m["hr_at_1"] == 1.0


def test_popularity_baseline_both_protocols():
    pop = popularity_scores(np.array([5, 1, 3, 0]))
    m = ncf_protocol_metrics(pop.score_pairs, np.array([0, 1]), np.array([0, 1]), np.array([[2, 3], [0, 2]]), k=1)
    assert m["hr_at_1"] == 0.5
    train = sp.csr_matrix((np.ones(1), ([1], [0])), shape=(2, 4))
    full = full_catalog_metrics(pop.score_users, train, np.array([0, 1]), np.array([0, 2]), k=1)
    assert full["hr_at_1"] == 1.0  # user 1 saw item 0, so item 2 is the most popular left
    assert full["coverage"] == 0.5
