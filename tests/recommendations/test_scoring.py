"""The NumPy scorer must reproduce the Keras NeuMF exactly (sigmoid output, 1e-5), also after a warm start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recommendations.scoring import NeuMFScorer
from training.ncf import (
    InteractionData,
    NCFParams,
    WarmStart,
    build_model,
    export_weights,
    import_weights,
    train_ncf,
)

ROOT = Path(__file__).resolve().parents[2]
PARAMS = NCFParams(
    embedding_dim=8, mlp_layers=(16, 8, 4), epochs=3, batch_size=128, learning_rate=0.02, num_negatives=2, seed=3
)


def all_pairs(n_users: int, n_items: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(np.arange(n_users), n_items), np.tile(np.arange(n_items), n_users)


def keras_probabilities(model, n_users: int, n_items: int) -> np.ndarray:
    u, i = all_pairs(n_users, n_items)
    out = model.predict([u.astype(np.int32), i.astype(np.int32)], verbose=0, batch_size=4096)
    return out.reshape(n_users, n_items)


def random_data(n_users: int, n_items: int, seed: int) -> InteractionData:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, 6 * n_users)
    items = (users * 7 + rng.integers(0, n_items // 3, len(users))) % n_items
    return InteractionData.from_arrays(users, items, n_users=n_users, n_items=n_items)


def assert_parity(scorer: NeuMFScorer, model, n_users: int, n_items: int) -> None:
    expected = keras_probabilities(model, n_users, n_items)
    by_user = np.stack([scorer.score_items(u) for u in range(n_users)])
    np.testing.assert_allclose(by_user, expected, atol=1e-5, rtol=0)
    u, i = all_pairs(n_users, n_items)
    np.testing.assert_allclose(
        scorer.score_pairs(u, i, chunk_size=97).reshape(n_users, n_items), expected, atol=1e-5, rtol=0
    )
    subset = np.array([n_items - 1, 0, 3])
    np.testing.assert_allclose(scorer.score_items(1, subset), expected[1, subset], atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def trained():
    data = random_data(40, 30, seed=0)
    return data, train_ncf(data, PARAMS)


def test_parity_after_training(trained):
    data, result = trained
    assert_parity(NeuMFScorer(result.weights), result.model, data.n_users, data.n_items)


def test_parity_after_warm_start(trained):
    data, result = trained
    user_old = np.concatenate([np.arange(data.n_users)[::-1], [-1, -1, -1]])
    item_old = np.concatenate([[-1], np.arange(data.n_items)])
    grown = random_data(data.n_users + 3, data.n_items + 1, seed=1)
    warm = train_ncf(grown, PARAMS.replace(epochs=1), warm_start=WarmStart(result.weights, user_old, item_old))
    scorer = NeuMFScorer(warm.weights)
    assert (scorer.n_users, scorer.n_items) == (43, 31)
    assert_parity(scorer, warm.model, 43, 31)


@pytest.mark.parametrize(
    ("mlp_layers", "learn_gmf_weights", "item_bias"),
    [((8,), False, False), ((12, 6), True, False), ((12, 6), False, True), ((8,), True, True)],
)
def test_parity_other_architectures(mlp_layers, learn_gmf_weights, item_bias):
    params = NCFParams(
        embedding_dim=5, mlp_layers=mlp_layers, init_std=0.7, learn_gmf_weights=learn_gmf_weights, item_bias=item_bias
    )
    model = build_model(9, 11, params)
    weights = export_weights(model)
    if item_bias:
        weights["item_bias"] = np.random.default_rng(0).normal(size=11).astype(np.float32)
        import_weights(model, weights)
    assert_parity(NeuMFScorer(export_weights(model)), model, 9, 11)


def test_logits_order_like_probabilities(trained):
    _, result = trained
    scorer = NeuMFScorer(result.weights)
    logits = scorer.score_items(2, logit=True)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits.astype(np.float64))), scorer.score_items(2), atol=1e-6)
    assert logits.dtype == np.float32


def test_embeddings_and_metadata(trained):
    data, result = trained
    scorer = NeuMFScorer(result.weights)
    items = scorer.item_embeddings()
    assert items.shape[0] == data.n_items
    assert items.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), 1.0, atol=1e-5)
    vector = scorer.user_vector(0)
    assert vector.shape == (items.shape[1],)
    assert scorer.nbytes >= sum(v.nbytes for v in result.weights.values())
    with pytest.raises(IndexError):
        scorer.score_items(data.n_users)


def test_rejects_inconsistent_weights(trained):
    _, result = trained
    broken = dict(result.weights)
    broken["out_w"] = broken["out_w"][:-1]
    with pytest.raises(ValueError, match="out_w"):
        NeuMFScorer(broken)
    with pytest.raises(ValueError, match="gmf_item"):
        NeuMFScorer({k: v for k, v in result.weights.items() if k != "gmf_item"})


def test_scoring_does_not_import_tensorflow():
    code = (
        "import sys; import recommendations.scoring; "
        "bad = [m for m in ('tensorflow', 'keras', 'django') if m in sys.modules]; sys.exit(1 if bad else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)  # noqa: S603
