"""NeuMF trainer on tiny synthetic data (a few seconds of TensorFlow per test)."""

from __future__ import annotations

import numpy as np
import pytest

from training.evaluation import contains, leave_one_out, ncf_protocol_metrics, popularity_scores
from training.ncf import (
    InteractionData,
    NCFParams,
    TrainingCancelled,
    WarmStart,
    build_model,
    epoch_examples,
    export_weights,
    fuse_pretrained,
    grow_weights,
    import_weights,
    load_model,
    merge_duplicates,
    sample_training_negatives,
    save_model,
    train_ncf,
    validation_split,
)

TINY = NCFParams(
    embedding_dim=8,
    mlp_layers=(16, 8),
    epochs=8,
    batch_size=256,
    learning_rate=0.01,
    num_negatives=4,
    patience=8,
    pretrain_epochs=3,
)


def clustered(n_users: int = 80, n_items: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two user groups, each interacting only with (a random half of) its own half of the catalogue."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for u in range(n_users):
        half = u % 2
        pool = np.arange(half * n_items // 2, (half + 1) * n_items // 2)
        chosen = rng.choice(pool, size=len(pool) // 2, replace=False)
        users += [u] * len(chosen)
        items += chosen.tolist()
    return np.array(users), np.array(items)


def predict(model, users: np.ndarray, items: np.ndarray) -> np.ndarray:
    return model.predict([users.astype(np.int32), items.astype(np.int32)], verbose=0, batch_size=4096).reshape(-1)


@pytest.fixture(scope="module")
def clustered_data():
    users, items = clustered()
    mask, hu, hi = leave_one_out(users, items)
    data = InteractionData.from_arrays(users, items, n_users=80, n_items=60)
    train = InteractionData.from_arrays(users[mask], items[mask], n_users=80, n_items=60)
    rng = np.random.default_rng(1)
    # Test negatives: items of the *other* group, which the structure says are uninteresting.
    other = np.array([rng.choice(np.arange((1 - u % 2) * 30, (2 - u % 2) * 30), 20, replace=False) for u in hu])
    return data, train, (hu, hi, other)


@pytest.fixture(scope="module")
def trained(clustered_data):
    _, train, _ = clustered_data
    train_part, validation = validation_split(train, k=20, seed=0)
    epochs_seen = []
    result = train_ncf(
        train_part, TINY, validation=validation, on_epoch=lambda e, n, loss, hr: epochs_seen.append((e, n, loss, hr))
    )
    return result, train_part, epochs_seen


def test_trained_model_beats_popularity(clustered_data, trained):
    _, train, (hu, hi, neg) = clustered_data
    result, _, _ = trained
    model_hr = ncf_protocol_metrics(lambda u, i: predict(result.model, u, i), hu, hi, neg, k=5)["hr_at_5"]
    pop = popularity_scores(np.bincount(train.item_idx, minlength=60))
    pop_hr = ncf_protocol_metrics(pop.score_pairs, hu, hi, neg, k=5)["hr_at_5"]
    assert model_hr > 0.9
    assert model_hr > pop_hr + 0.3


def test_softmax_loss_learns_the_structure_too(clustered_data):
    _, train, (hu, hi, neg) = clustered_data
    params = TINY.replace(loss="softmax", refit=False)
    result = train_ncf(train, params)
    model_hr = ncf_protocol_metrics(lambda u, i: predict(result.model, u, i), hu, hi, neg, k=5)["hr_at_5"]
    assert model_hr > 0.9
    assert all(np.isfinite(h.loss) and h.loss > 0 for h in result.history)
    with pytest.raises(ValueError, match="loss"):
        NCFParams(loss="hinge")


def test_history_callbacks_best_epoch_and_refit(trained):
    result, _, epochs_seen = trained
    assert len(result.history) == len(epochs_seen) >= 2
    assert [e for e, *_ in epochs_seen] == list(range(1, len(epochs_seen) + 1))
    assert epochs_seen[-1][1] == len(epochs_seen)  # the total is exact once the refit's length is known
    assert all(n <= 2 * TINY.epochs for _, n, _, _ in epochs_seen)
    selection = [h for h in result.history if h.phase == "neumf"]
    refit = [h for h in result.history if h.phase == "refit-neumf"]
    assert len(selection) + len(refit) == len(result.history)
    assert 1 <= result.best_epoch <= len(selection)
    best_hr = max(h.val_hr for h in selection)
    assert result.best_val_hr == pytest.approx(best_hr)
    assert selection[result.best_epoch - 1].val_hr == pytest.approx(best_hr)
    # Early stopping: at most `patience` epochs after the best one.
    assert len(selection) <= result.best_epoch + TINY.patience
    assert result.refit
    # the refit trains the last `refit_epochs` (or all the chosen epochs, when fewer) on all the data
    assert len(refit) == min(result.best_epoch, TINY.refit_epochs or result.best_epoch)
    assert [h.epoch for h in refit] == list(range(result.best_epoch - len(refit) + 1, result.best_epoch + 1))
    assert all(h.val_hr is None for h in refit)
    assert all(h.seconds > 0 and np.isfinite(h.loss) for h in result.history)
    assert set(result.weights) == {"gmf_user", "gmf_item", "mlp_user", "mlp_item", "mlp_w0", "mlp_b0", "out_w", "out_b"}


def test_training_negatives_never_contain_positives():
    rng = np.random.default_rng(0)
    users, items = clustered(40, 30)
    data = InteractionData.from_arrays(users, items, n_users=40, n_items=30)
    negatives = sample_training_negatives(data.keys, data.user_idx, 30, 5, rng)
    assert negatives.shape == (len(data) * 5,)
    assert not contains(data.keys, np.repeat(data.user_idx, 5), negatives, 30).any()
    users, items, weights = epoch_examples(data, 3, rng)
    assert items.shape == (len(data), 4)
    is_pos = contains(data.keys, np.repeat(users, 4), items.reshape(-1), 30).reshape(-1, 4)
    assert is_pos[:, 0].all()
    assert not is_pos[:, 1:].any()
    # Every positive exactly once, with its own weight.
    np.testing.assert_array_equal(np.sort(users.astype(np.int64) * 30 + items[:, 0]), data.keys)
    np.testing.assert_array_equal(weights, np.ones(len(data), dtype=np.float32))


def test_large_tenants_sample_the_same_negatives_without_the_dense_table(monkeypatch):
    from training.ncf import data as ncf_data

    users, items = clustered(40, 30)
    data = InteractionData.from_arrays(users, items, n_users=40, n_items=30)
    dense = sample_training_negatives(data.keys, data.user_idx, 30, 6, np.random.default_rng(3))
    monkeypatch.setattr(ncf_data, "DENSE_MEMBERSHIP_MAX_CELLS", 0)  # as for a catalog too big for the table
    searched = sample_training_negatives(data.keys, data.user_idx, 30, 6, np.random.default_rng(3))
    np.testing.assert_array_equal(dense, searched)
    assert not contains(data.keys, np.repeat(data.user_idx, 6), searched, 30).any()


def test_merge_duplicates_sum_and_max():
    u, i, w = merge_duplicates(np.array([1, 0, 1, 1]), np.array([2, 3, 2, 4]), np.array([1.0, 2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(u, [0, 1, 1])
    np.testing.assert_array_equal(i, [3, 2, 4])
    np.testing.assert_allclose(w, [2.0, 4.0, 4.0])
    _, _, w = merge_duplicates(
        np.array([1, 0, 1, 1]), np.array([2, 3, 2, 4]), np.array([1.0, 2.0, 3.0, 4.0]), how="max"
    )
    np.testing.assert_allclose(w, [2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match="duplicated"):
        InteractionData(np.array([0, 0]), np.array([1, 1]), np.ones(2), 1, 2)


def test_params_round_trip_and_unknown_keys():
    params = NCFParams(embedding_dim=16, mlp_layers=(32, 16, 8), pretrain=True, l2=1e-4)
    data = params.to_dict()
    assert data["mlp_layers"] == [32, 16, 8]
    assert NCFParams.from_dict(data) == params
    assert NCFParams.from_dict({}) == NCFParams()
    with pytest.raises(ValueError, match="bogus"):
        NCFParams.from_dict({"epochs": 3, "bogus": 1})
    with pytest.raises(ValueError, match="mlp_layers"):
        NCFParams(mlp_layers=(7, 4))


def test_validation_split(clustered_data):
    data, _, _ = clustered_data
    order = np.random.default_rng(5).permutation(len(data))
    train, val = validation_split(data, order=order, k=10, seed=3)
    assert len(train) + len(val.user_idx) == len(data)
    # Each validation row is that user's row with the largest order value.
    for u, item in zip(val.user_idx, val.item_idx, strict=True):
        rows = np.flatnonzero(data.user_idx == u)
        assert data.item_idx[rows[np.argmax(order[rows])]] == item
    assert not contains(train.keys, val.user_idx, val.item_idx, data.n_items).any()
    flat_users = np.repeat(val.user_idx, 10)
    assert not contains(data.keys, flat_users, val.negatives.reshape(-1), data.n_items).any()
    _, again = validation_split(data, order=order, k=10, seed=3)
    np.testing.assert_array_equal(val.negatives, again.negatives)


def test_refit_data_adds_the_validation_rows(clustered_data):
    from training.ncf.train import with_validation_rows

    data, _, _ = clustered_data
    weighted = InteractionData(data.user_idx, data.item_idx, np.arange(len(data)) + 1.0, data.n_users, data.n_items)
    train, val = validation_split(weighted, k=5)
    full = with_validation_rows(train, val)
    np.testing.assert_array_equal(full.keys, weighted.keys)
    np.testing.assert_array_equal(full.weights, weighted.weights)


def test_validation_split_skips_single_interaction_users():
    data = InteractionData(np.array([0, 0, 1]), np.array([0, 1, 2]), np.ones(3), 2, 30)
    train, val = validation_split(data, k=5)
    np.testing.assert_array_equal(val.user_idx, [0])
    assert len(train) == 2


def test_fused_pretrained_output_mixes_halves():
    params = NCFParams(embedding_dim=4, mlp_layers=(8, 4), init_std=0.5)
    gmf = export_weights(build_model(5, 6, params, "gmf"))
    mlp = export_weights(build_model(5, 6, params.replace(seed=1), "mlp"))
    model = build_model(5, 6, params)
    import_weights(model, fuse_pretrained(gmf, mlp))
    u, i = np.repeat(np.arange(5), 6), np.tile(np.arange(6), 5)
    gmf_logit = (gmf["gmf_user"][u] * gmf["gmf_item"][i]) @ gmf["out_w"] + gmf["out_b"]
    h = np.maximum(np.concatenate([mlp["mlp_user"][u], mlp["mlp_item"][i]], 1) @ mlp["mlp_w0"] + mlp["mlp_b0"], 0)
    mlp_logit = h @ mlp["out_w"] + mlp["out_b"]
    expected = 1 / (1 + np.exp(-(0.5 * gmf_logit + 0.5 * mlp_logit)))
    np.testing.assert_allclose(predict(model, u, i), expected, atol=1e-5)


def test_pretrain_path_runs():
    users, items = clustered(20, 16)
    data = InteractionData.from_arrays(users, items, n_users=20, n_items=16)
    train, val = validation_split(data, k=5)
    result = train_ncf(train, TINY.replace(pretrain=True, epochs=2, pretrain_epochs=2), validation=val)
    assert set(result.pretrain_best_epochs) == {"gmf", "mlp"}
    phases = [h.phase for h in result.history]
    assert set(phases) == {"gmf", "mlp", "neumf", "refit-gmf", "refit-mlp", "refit-neumf"}
    assert phases.count("refit-gmf") == result.pretrain_best_epochs["gmf"]
    assert phases.count("refit-neumf") == result.best_epoch


def test_grow_weights_keeps_old_rows_and_initialises_new_ones():
    params = NCFParams(embedding_dim=4, mlp_layers=(8, 4))
    old = export_weights(build_model(3, 4, params.replace(init_std=1.0)))
    fresh = export_weights(build_model(5, 6, params.replace(seed=7)))
    user_map = np.array([2, -1, 0, 1, -1])
    item_map = np.array([-1, 3, 2, 1, 0, -1])
    grown = grow_weights(fresh, WarmStart(old, user_map, item_map))
    for name in ("gmf_user", "mlp_user"):
        np.testing.assert_array_equal(grown[name][[0, 2, 3]], old[name][[2, 0, 1]])
        np.testing.assert_array_equal(grown[name][[1, 4]], fresh[name][[1, 4]])
    for name in ("gmf_item", "mlp_item"):
        np.testing.assert_array_equal(grown[name][1:5], old[name][[3, 2, 1, 0]])
        np.testing.assert_array_equal(grown[name][[0, 5]], fresh[name][[0, 5]])
    np.testing.assert_array_equal(grown["mlp_w0"], old["mlp_w0"])
    with pytest.raises(ValueError, match="user_old_index"):
        grow_weights(fresh, WarmStart(old, user_map[:3], item_map))
    with_bias = params.replace(item_bias=True)
    old_bias = export_weights(build_model(3, 4, with_bias))
    old_bias["item_bias"] = np.arange(4, dtype=np.float32) + 1
    grown = grow_weights(export_weights(build_model(5, 6, with_bias)), WarmStart(old_bias, user_map, item_map))
    np.testing.assert_array_equal(grown["item_bias"], [0, 4, 3, 2, 1, 0])
    wider = export_weights(build_model(5, 6, params.replace(embedding_dim=6)))
    with pytest.raises(ValueError, match="gmf_user"):
        grow_weights(wider, WarmStart(old, user_map, item_map))


def test_warm_start_grows_embeddings(trained):
    result, train, _ = trained
    # New version: users reversed, two brand-new users and one new item appended.
    n_users, n_items = train.n_users + 2, train.n_items + 1
    user_old = np.concatenate([np.arange(train.n_users)[::-1], [-1, -1]])
    item_old = np.concatenate([np.arange(train.n_items), [-1]])
    new_users = (train.n_users - 1 - train.user_idx).astype(np.int32)
    data = InteractionData(
        np.concatenate([new_users, [n_users - 1]]),
        np.concatenate([train.item_idx, [n_items - 1]]),
        np.ones(len(train) + 1),
        n_users,
        n_items,
    )
    warm = train_ncf(
        data, TINY.replace(epochs=1, learning_rate=1e-7), warm_start=WarmStart(result.weights, user_old, item_old)
    )
    assert warm.weights["gmf_user"].shape == (n_users, TINY.embedding_dim)
    assert warm.weights["mlp_item"].shape == (n_items, TINY.mlp_embedding_dim)
    np.testing.assert_allclose(warm.weights["gmf_user"][: train.n_users], result.weights["gmf_user"][::-1], atol=1e-4)
    np.testing.assert_allclose(warm.weights["mlp_item"][: train.n_items], result.weights["mlp_item"], atol=1e-4)
    # New rows start from the fresh initialiser (small), not from zeros or copies.
    assert 0 < np.abs(warm.weights["gmf_user"][-2:]).max() < 0.2


def test_should_stop_cancels():
    users, items = clustered(20, 16)
    data = InteractionData.from_arrays(users, items, n_users=20, n_items=16)
    with pytest.raises(TrainingCancelled):
        train_ncf(data, TINY.replace(epochs=3), should_stop=lambda: True)


def test_save_and_load_model(tmp_path, trained):
    result, _, _ = trained
    path = tmp_path / "model.keras"
    save_model(result.model, path)
    loaded = load_model(path)
    u, i = np.repeat(np.arange(80), 60), np.tile(np.arange(60), 80)
    np.testing.assert_allclose(predict(loaded, u, i), predict(result.model, u, i), atol=1e-6)


@pytest.mark.parametrize(
    ("architecture", "mlp_layers", "item_bias", "learn_gmf_weights"),
    [
        ("neumf", (16, 8, 4), False, False),
        ("neumf", (8,), True, True),
        ("gmf", (8,), True, False),
        ("mlp", (12, 6), False, False),
    ],
)
def test_grouped_training_forward_matches_the_keras_model(architecture, mlp_layers, item_bias, learn_gmf_weights):
    from training.ncf.train import _Trainer

    params = NCFParams(
        embedding_dim=6,
        mlp_layers=mlp_layers,
        init_std=0.5,
        item_bias=item_bias,
        learn_gmf_weights=learn_gmf_weights,
        num_negatives=3,
    )
    model = build_model(20, 15, params, architecture)
    if item_bias:
        weights = export_weights(model)
        weights["item_bias"] = np.random.default_rng(1).normal(size=15).astype(np.float32)
        import_weights(model, weights)
    trainer = _Trainer(model, params, 0.01, jit=False)
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20, 7).astype(np.int32)
    items = rng.integers(0, 15, (7, 4)).astype(np.int32)
    logits, _ = trainer.group_logits(users, items)
    expected = predict(model, np.repeat(users, 4), items.reshape(-1)).reshape(7, 4)
    np.testing.assert_allclose(1 / (1 + np.exp(-logits.numpy())), expected, atol=1e-6)


def test_lazy_adam_updates_only_the_users_in_the_batch():
    from training.ncf.train import _Trainer

    params = NCFParams(embedding_dim=4, mlp_layers=(8, 4), init_std=0.5, num_negatives=2)
    model = build_model(6, 5, params)
    trainer = _Trainer(model, params, 0.01, jit=False)
    before = export_weights(model)
    users = np.array([1, 3, 3], dtype=np.int32)  # user 3 twice: one update with the summed gradient
    items = np.array([[0, 1, 2], [3, 4, 0], [1, 2, 3]], dtype=np.int32)
    trainer.step(users, items, np.ones(3, dtype=np.float32))
    after = export_weights(model)
    for name in ("gmf_user", "mlp_user"):
        untouched = [0, 2, 4, 5]
        np.testing.assert_array_equal(after[name][untouched], before[name][untouched])
        # First Adam step: every coordinate with a gradient moves by about the learning rate.
        np.testing.assert_allclose(np.abs(after[name][[1, 3]] - before[name][[1, 3]]), 0.01, rtol=0.02)
    assert not np.array_equal(after["gmf_item"], before["gmf_item"])


def test_recency_multiplier_weighs_each_users_latest_rows_most():
    from training.ncf import recency_multiplier

    users = np.array([0, 0, 0, 1, 1, 2])
    order = np.array([30, 10, 20, 50, 90, 0])
    got = recency_multiplier(users, order, boost=2.0, tau=1.0)
    e = np.exp(-1.0)
    np.testing.assert_allclose(got, [3.0, 1 + 2 * e**2, 1 + 2 * e, 1 + 2 * e, 3.0, 3.0], rtol=1e-6)
    np.testing.assert_array_equal(recency_multiplier(users, order, boost=0.0, tau=1.0), np.ones(6))
    np.testing.assert_array_equal(recency_multiplier(users, None, boost=2.0, tau=1.0), np.ones(6))
    # rows of unknown time get 1.0 and do not push the others back
    known = np.array([True, True, False, True, True, True])
    partial = recency_multiplier(users, order, boost=2.0, tau=1.0, known=known)
    np.testing.assert_allclose(partial, [3.0, 1 + 2 * e, 1.0, 1 + 2 * e, 3.0, 3.0], rtol=1e-6)


def test_the_pipeline_trains_with_recency_weights_and_serves_a_refit_on_everything(monkeypatch):
    """pipeline.run hands train_ncf the confidence times the recency multiplier, and the holdout for the refit."""
    from training import pipeline

    seen = {}

    def fake_train(fit, params, validation=None, refit_extra=None, **kwargs):
        seen["fit"], seen["validation"], seen["refit_extra"] = fit, validation, refit_extra
        raise RuntimeError("stop here")

    monkeypatch.setattr("training.ncf.train_ncf", fake_train)
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(20), 6)
    items = np.concatenate([rng.choice(30, 6, replace=False) for _ in range(20)])
    order = np.arange(len(users))
    params = NCFParams(recency_boost=3.0, recency_tau=2.0, epochs=1)
    with pytest.raises(RuntimeError, match="stop here"):
        pipeline.run(user_idx=users, item_idx=items, weights=np.ones(len(users), np.float32), order=order,
                     n_users=20, n_items=30, params=params)  # fmt: skip
    # each user's latest row is the holdout, the next the validation row (weight 1 + 3e^-0.5), then the rest
    np.testing.assert_allclose(seen["validation"].weights, 1 + 3 * np.exp(-0.5), rtol=1e-6)
    assert seen["fit"].weights.max() == pytest.approx(1 + 3 * np.exp(-1.0), rel=1e-6)
    assert seen["fit"].weights.min() == pytest.approx(1 + 3 * np.exp(-2.5), rel=1e-6)
    # the refit also gets the holdout (each user's latest, weighing 1 + 3), so the served model has seen it
    extra = seen["refit_extra"]
    assert len(extra) == 20
    np.testing.assert_allclose(extra.weights, 4.0, rtol=1e-6)
    assert set(zip(extra.user_idx.tolist(), extra.item_idx.tolist(), strict=True)) == {
        (u, int(items[6 * u + 5])) for u in range(20)
    }


def test_the_refit_takes_the_validation_and_extra_rows():
    from training.ncf import ValidationSet
    from training.ncf.train import with_validation_rows

    data = InteractionData(np.array([0, 1]), np.array([0, 1]), np.array([1.0, 1.0]), 2, 4)
    validation = ValidationSet(np.array([0, 1]), np.array([2, 2]), np.zeros((2, 1), np.int32), np.array([2.0, 3.0]))
    extra = InteractionData(np.array([0, 1]), np.array([3, 1]), np.array([5.0, 7.0]), 2, 4)
    rows = with_validation_rows(data, validation, extra)
    got = {
        (u, i): w for u, i, w in zip(rows.user_idx.tolist(), rows.item_idx.tolist(), rows.weights.tolist(), strict=True)
    }
    # a pair in both keeps its larger weight
    assert got == {(0, 0): 1.0, (0, 2): 2.0, (0, 3): 5.0, (1, 1): 7.0, (1, 2): 3.0}


def test_a_refit_of_the_last_epochs_resumes_the_selection_run(clustered_data, monkeypatch):
    """refit_epochs=k: the refit starts from the selection run's state k epochs before the chosen one."""
    from training.ncf import train as ncf_train

    _, train, (hu, hi, neg) = clustered_data
    train_part, validation = validation_split(train, k=20, seed=0)
    restored = []
    real_restore = ncf_train._Trainer.restore
    monkeypatch.setattr(
        ncf_train._Trainer, "restore", lambda self, state: restored.append(1) or real_restore(self, state)
    )
    params = TINY.replace(refit_epochs=2, lr_decay=0.9)
    result = train_ncf(train_part, params, validation=validation)
    refit = [h.epoch for h in result.history if h.phase == "refit-neumf"]
    assert result.best_epoch > 2  # (seeded) so that there is a state to resume from
    assert refit == [result.best_epoch - 1, result.best_epoch]  # the last two epochs, numbered as such
    assert restored == [1]
    model_hr = ncf_protocol_metrics(lambda u, i: predict(result.model, u, i), hu, hi, neg, k=5)["hr_at_5"]
    assert model_hr > 0.9


def test_a_trainers_state_moves_to_a_new_trainer():
    from training.ncf import train as ncf_train

    users, items = clustered(20, 10)
    data = InteractionData.from_arrays(users, items, n_users=20, n_items=10)
    first = ncf_train._Trainer(build_model(20, 10, TINY), TINY, 0.01, jit=False)
    u, i, w = epoch_examples(data, TINY.num_negatives, np.random.default_rng(0))
    first.step(u, i, w)
    second = ncf_train._Trainer(build_model(20, 10, TINY.replace(seed=5)), TINY, 0.01, jit=False)
    second.restore(first.state())
    np.testing.assert_allclose(second.score_pairs(u, i[:, 0]), first.score_pairs(u, i[:, 0]), rtol=1e-6)
    # and the optimizers continue alike: one more identical step gives identical weights
    first.step(u, i, w)
    second.step(u, i, w)
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
