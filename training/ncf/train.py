"""NeuMF training loop: custom tf.function train step, per-epoch negatives, early stopping on validation HR@10."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from training.evaluation import ncf_protocol_metrics
from training.ncf.data import InteractionData, ValidationSet, epoch_examples, merge_duplicates
from training.ncf.model import (
    EMBEDDINGS,
    WarmStart,
    build_model,
    export_weights,
    fuse_pretrained,
    grow_weights,
    import_weights,
    keras,
    logit_model,
)
from training.ncf.params import NCFParams

XLA_MIN_EXAMPLES = 200_000
OnEpoch = Callable[[int, int, float, "float | None"], None]


class TrainingCancelled(Exception):
    """Raised by :func:`train_ncf` when ``should_stop()`` returned True."""


@dataclass
class EpochStats:
    phase: str
    epoch: int
    loss: float
    val_hr: float | None
    val_ndcg: float | None
    seconds: float


@dataclass
class TrainResult:
    """The trained model, its exported weights and the training history.

    ``best_epoch`` is the NeuMF epoch chosen on the validation split; with ``refit`` the model is the one
    retrained for that many epochs on all the data, otherwise the selection run's best epoch.
    """

    model: keras.Model
    weights: dict[str, np.ndarray]
    history: list[EpochStats]
    best_epoch: int
    seconds: float
    params: NCFParams
    best_val_hr: float | None = None
    best_val_ndcg: float | None = None
    pretrain_best_epochs: dict[str, int] = field(default_factory=dict)
    refit: bool = False
    selection_weights: dict[str, np.ndarray] | None = None  # the selection run's best model, before the refit


_THREADS_CONFIGURED = False


def framework_versions() -> dict[str, str]:
    """The TensorFlow and Keras versions, for a model's metadata."""
    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def configure_threads(n_threads: int | None = None) -> None:
    """Use ``n_threads`` (default: ``os.cpu_count()``) TensorFlow intra-op threads and 2 inter-op threads.

    TensorFlow only accepts this before its runtime starts; later calls are ignored.
    """
    global _THREADS_CONFIGURED
    if _THREADS_CONFIGURED:
        return
    n = n_threads or os.cpu_count() or 1
    try:
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, n))
    except RuntimeError:
        pass
    _THREADS_CONFIGURED = True


class _Trainer:
    """Owns one model's optimizer and compiled train / score functions.

    Training batches are groups ``(user, [positive, negative_1, ..., negative_k])``: the user-side work (the
    user embeddings, the user half of the first MLP layer) is done once per group, which makes a step about
    1.5x faster than on flat (user, item) pairs. :meth:`group_logits` must compute exactly what the Keras model
    computes on the flattened pairs; a test checks it.
    """

    def __init__(self, model: keras.Model, params: NCFParams, learning_rate: float, jit: bool = True):
        self.model = model
        self.params = params
        self.scorer = logit_model(model)
        present = {lay.name for lay in model.layers}
        self.embeddings = {name: model.get_layer(name) for name in EMBEDDINGS if name in present}
        self.dense = sorted((lay for lay in model.layers if lay.name.startswith("mlp_") and lay.name[4:].isdigit()),
                            key=lambda lay: int(lay.name[4:]))  # fmt: skip
        self.head = model.get_layer("prediction")
        self.kernels = [lay.kernel for lay in self.dense]
        self.kernels += [w for w in (getattr(self.head, "gmf_kernel", None), getattr(self.head, "mlp_kernel", None))
                         if w is not None and w.trainable]  # fmt: skip
        # User tables get a lazy (row-wise) Adam, everything else Keras' dense Adam; see _lazy_adam.
        self.lazy = [self.embeddings[n].embeddings for n in ("gmf_user", "mlp_user") if n in self.embeddings]
        lazy_ids = {id(v) for v in self.lazy}
        self.dense_variables = [v for v in model.trainable_variables if id(v) not in lazy_ids]
        self.optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        self.optimizer.build(self.dense_variables)
        self.lazy_slots = [(tf.Variable(tf.zeros(v.shape)), tf.Variable(tf.zeros(v.shape))) for v in self.lazy]
        self.lazy_steps = tf.Variable(0.0)
        ispec = tf.TensorSpec([None], tf.int32)
        gspec = tf.TensorSpec([None, 1 + params.num_negatives], tf.int32)
        fspec = tf.TensorSpec([None], tf.float32)
        # XLA fuses the small ops of this model (about 30% faster per step on CPU); compiling costs a second or
        # two, which only pays off on epochs of some size.
        self.step = tf.function(self._step, input_signature=[ispec, gspec, fspec], jit_compile=jit)
        self.predict = tf.function(self._predict, input_signature=[ispec, ispec])

    def group_logits(self, users: tf.Tensor, items: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Logits ``(g, 1 + k)`` of users ``(g,)`` x items ``(g, 1 + k)``, and each example's squared norm of the
        embeddings it looks up (the per-example L2 term)."""
        emb = self.embeddings
        branches, user_sq, item_sq = [], 0.0, 0.0
        if "gmf_user" in emb:
            pu, qi = emb["gmf_user"](users), emb["gmf_item"](items)
            branches.append(pu[:, None, :] * qi)
            user_sq += tf.reduce_sum(tf.square(pu), -1)
            item_sq += tf.reduce_sum(tf.square(qi), -1)
        if "mlp_user" in emb:
            mu, mi = emb["mlp_user"](users), emb["mlp_item"](items)
            user_sq += tf.reduce_sum(tf.square(mu), -1)
            item_sq += tf.reduce_sum(tf.square(mi), -1)
            if self.dense:
                # The tower on flat (g * (1 + k), width) rows, the user half of the first layer computed once
                # per group and repeated: about 8% faster a step than broadcasting over (g, 1 + k, width),
                # whose gradient XLA reduces slowly.
                m = self.params.mlp_embedding_dim
                first = self.dense[0]
                group_size = tf.shape(items)[1]
                user_part = tf.repeat(tf.matmul(mu, first.kernel[:m]), group_size, axis=0)
                x = tf.nn.relu(user_part + tf.matmul(tf.reshape(mi, [-1, m]), first.kernel[m:]) + first.bias)
                for layer in self.dense[1:]:
                    x = tf.nn.relu(tf.matmul(x, layer.kernel) + layer.bias)
                x = tf.reshape(x, [tf.shape(items)[0], group_size, x.shape[-1]])
            else:
                x = tf.concat([tf.broadcast_to(mu[:, None, :], tf.shape(mi)), mi], -1)
            branches.append(x)
        if "item_bias" in emb:
            bias = emb["item_bias"](items)
            branches.append(bias)
            item_sq += tf.reduce_sum(tf.square(bias), -1)
        logits = tf.squeeze(self.head(branches), -1)
        return logits, user_sq[:, None] + item_sq

    def _step(self, users: tf.Tensor, items: tf.Tensor, positive_weights: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            logits, sq = self.group_logits(users, items)
            if self.params.loss == "softmax":
                # Sampled softmax: the positive against its own k negatives, weighted by the positive's weight.
                nll = tf.reduce_logsumexp(logits, axis=1) - logits[:, 0]
                loss = tf.reduce_mean(positive_weights * nll)
            else:
                labels = tf.concat([tf.ones_like(logits[:, :1]), tf.zeros_like(logits[:, 1:])], axis=1)
                weights = tf.concat([positive_weights[:, None], tf.ones_like(logits[:, 1:])], axis=1)
                bce = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
                loss = tf.reduce_mean(weights * bce)
            total = loss
            if self.params.l2 > 0:
                total += self.params.l2 * tf.reduce_mean(sq)
            if self.params.l2_dense > 0 and self.kernels:
                total += self.params.l2_dense * tf.add_n([tf.reduce_sum(tf.square(k)) for k in self.kernels])
        grads = tape.gradient(total, [*self.lazy, *self.dense_variables])
        self.optimizer.apply_gradients(zip(grads[len(self.lazy) :], self.dense_variables, strict=True))
        self._lazy_adam(grads[: len(self.lazy)])
        return loss

    def _lazy_adam(self, grads: list[tf.IndexedSlices]) -> None:
        """Adam (Keras' defaults and bias correction) that updates only the rows a batch looked up.

        A batch of groups touches a few hundred of the users but nearly every item, so this is applied to the
        user tables only: it saves the dense Adam passes over them (a quarter of a step's time at 256 factors)
        and leaves the rows of users not in the batch alone. Rows looked up twice get their summed gradient
        once: every duplicate computes and writes the same values.
        """
        b1, b2, eps = 0.9, 0.999, 1e-7
        t = self.lazy_steps.assign_add(1.0)
        lr = tf.cast(self.optimizer.learning_rate, tf.float32)
        step_size = lr * tf.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        for grad, variable, (m, v) in zip(grads, self.lazy, self.lazy_slots, strict=True):
            table = variable.value
            rows = grad.indices
            summed = tf.gather(tf.math.unsorted_segment_sum(grad.values, rows, table.shape[0]), rows)
            m_rows = b1 * tf.gather(m, rows) + (1.0 - b1) * summed
            v_rows = b2 * tf.gather(v, rows) + (1.0 - b2) * tf.square(summed)
            m.scatter_update(tf.IndexedSlices(m_rows, rows))
            v.scatter_update(tf.IndexedSlices(v_rows, rows))
            new_rows = tf.gather(table, rows) - step_size * m_rows / (tf.sqrt(v_rows) + eps)
            table.scatter_update(tf.IndexedSlices(new_rows, rows))

    def state(self) -> list[np.ndarray]:
        """Everything training would continue from: the weights and both optimizers' moments and steps."""
        variables = [*self.model.weights, *self.optimizer.variables, *(v for pair in self.lazy_slots for v in pair)]
        return [np.array(v.numpy(), copy=True) for v in (*variables, self.lazy_steps)]

    def restore(self, state: list[np.ndarray]) -> None:
        """Continue from another trainer's :meth:`state` (a model of the same shapes)."""
        variables = [*self.model.weights, *self.optimizer.variables, *(v for pair in self.lazy_slots for v in pair)]
        for variable, value in zip((*variables, self.lazy_steps), state, strict=True):
            variable.assign(value)

    def _predict(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(self.scorer([users, items], training=False), 1)

    def score_pairs(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return self.predict(users.astype(np.int32, copy=False), items.astype(np.int32, copy=False)).numpy()

    def validate(self, validation: ValidationSet) -> tuple[float, float]:
        """HR@10 / NDCG@10 of the NCF protocol on the validation set, scored on logits (no saturation ties)."""
        metrics = ncf_protocol_metrics(
            self.score_pairs, validation.user_idx, validation.item_idx, validation.negatives, batch_size=1 << 15
        )
        return metrics["hr_at_10"], metrics["ndcg_at_10"]


def _fit(
    model: keras.Model,
    data: InteractionData,
    params: NCFParams,
    max_epochs: int,
    learning_rate: float,
    phase: str,
    rng: np.random.Generator,
    validation: ValidationSet | None,
    history: list[EpochStats],
    report: Callable[[float, float | None], None],
    should_stop: Callable[[], bool] | None,
    snapshots: dict[int, list[np.ndarray]] | None = None,
    start: tuple[int, list[np.ndarray]] | None = None,
) -> tuple[int, float | None, float | None]:
    """Train ``model`` in place; restore the best validation epoch. Returns (best_epoch, best HR, best NDCG).

    ``snapshots`` collects the trainer's state after the epochs a later refit may start from (the newest
    ``params.refit_epochs + params.patience + 1``, and the start). ``start=(epoch, state)`` continues from such a
    state: epochs ``epoch + 1`` to ``max_epochs`` are run, on their own learning rates."""
    trainer = _Trainer(model, params, learning_rate, jit=len(data) * (1 + params.num_negatives) >= XLA_MIN_EXAMPLES)
    first = 1
    if start is not None:
        first = start[0] + 1
        trainer.restore(start[1])
    keep = params.refit_epochs + params.patience + 1
    if snapshots is not None:
        snapshots[0] = trainer.state()
    best = (0, -1.0, None)
    best_weights = None
    since_best = 0
    with _EpochPrefetcher(data, params.num_negatives, rng) as epochs:
        for epoch in range(first, max_epochs + 1):
            started = time.perf_counter()
            trainer.optimizer.learning_rate.assign(learning_rate * params.lr_decay ** (epoch - 1))
            users, items, weights = epochs.next()
            epoch_loss = _train_epoch(trainer, users, items, weights, params.batch_size, should_stop)
            val_hr = val_ndcg = None
            if validation is not None:
                val_hr, val_ndcg = trainer.validate(validation)
            if snapshots is not None:
                snapshots[epoch] = trainer.state()
                snapshots.pop(epoch - keep, None)
            history.append(EpochStats(phase, epoch, epoch_loss, val_hr, val_ndcg, time.perf_counter() - started))
            report(epoch_loss, val_hr)
            if should_stop is not None and should_stop():
                raise TrainingCancelled
            if validation is None:
                best = (epoch, None, None)
                continue
            if val_hr > best[1] + params.min_delta:
                best = (epoch, val_hr, val_ndcg)
                best_weights = model.get_weights()
                since_best = 0
            else:
                since_best += 1
                if since_best >= params.patience:
                    break
    if best_weights is not None:
        model.set_weights(best_weights)
    return best


def _train_epoch(
    trainer: _Trainer,
    users: np.ndarray,
    items: np.ndarray,
    weights: np.ndarray,
    batch_size: int,
    should_stop: Callable[[], bool] | None,
) -> float:
    """One pass over the shuffled groups; returns the mean batch loss (BCE without the L2 terms)."""
    total, steps = 0.0, 0
    groups = max(1, batch_size // items.shape[1])
    for s in range(0, len(users), groups):
        total += float(trainer.step(users[s : s + groups], items[s : s + groups], weights[s : s + groups]))
        steps += 1
        if should_stop is not None and steps % 64 == 0 and should_stop():
            raise TrainingCancelled
    return total / max(steps, 1)


class _EpochPrefetcher:
    """Builds the next epoch's shuffled examples in a background thread while the current epoch trains.

    NumPy releases the GIL in the heavy parts (sampling, searchsorted, take), so this overlaps with the
    TensorFlow steps. The thread owns a generator spawned from ``rng`` so that an unused last prefetch can
    be abandoned without touching ``rng`` again (runs stay reproducible).
    """

    def __init__(self, data: InteractionData, num_negatives: int, rng: np.random.Generator):
        self._args = (data, num_negatives, np.random.default_rng(rng.integers(2**63)))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ncf-epochs")
        self._next = self._pool.submit(epoch_examples, *self._args)

    def next(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        current = self._next.result()
        self._next = self._pool.submit(epoch_examples, *self._args)
        return current

    def __enter__(self) -> _EpochPrefetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class _Phases:
    model: keras.Model
    best_epochs: dict[str, int]
    best_val_hr: float | None
    best_val_ndcg: float | None
    snapshots: dict[int, list[np.ndarray]] = field(default_factory=dict)


class _Run:
    """State shared by the phases of one :func:`train_ncf` call: history, progress reporting, cancellation."""

    def __init__(self, params: NCFParams, on_epoch: OnEpoch | None, should_stop: Callable[[], bool] | None):
        self.params, self.on_epoch, self.should_stop = params, on_epoch, should_stop
        self.history: list[EpochStats] = []
        self.done = 0
        self.expected = 0
        self.rng = np.random.default_rng(params.seed)

    def report(self, loss: float, val_hr: float | None) -> None:
        self.done += 1
        if self.on_epoch is not None:
            self.on_epoch(self.done, max(self.expected, self.done), loss, val_hr)

    def phases(
        self,
        data: InteractionData,
        validation: ValidationSet | None,
        warm_start: WarmStart | None,
        fixed_epochs: dict[str, int] | None = None,
        prefix: str = "",
        continue_from: tuple[int, list[np.ndarray]] | None = None,
    ) -> _Phases:
        """Optional GMF / MLP pre-training, then NeuMF. With ``fixed_epochs`` every phase runs exactly that many
        epochs (the refit); otherwise each phase is early-stopped on ``validation``. ``continue_from`` is a
        NeuMF state of the selection run (see ``NCFParams.refit_epochs``): the refit's NeuMF phase resumes it."""
        params = self.params
        pretrain = params.pretrain and warm_start is None
        snapshots: dict[int, list[np.ndarray]] = {}

        def fit(model: keras.Model, phase: str, max_epochs: int, learning_rate: float) -> tuple:
            epochs = fixed_epochs[phase] if fixed_epochs is not None else max_epochs
            neumf = phase == "neumf"
            return _fit(
                model,
                data,
                params,
                epochs,
                learning_rate,
                prefix + phase,
                self.rng,
                validation if fixed_epochs is None else None,
                self.history,
                self.report,
                self.should_stop,
                snapshots=snapshots if neumf and fixed_epochs is None and params.refit_epochs else None,
                start=continue_from if neumf else None,
            )

        if continue_from is not None:  # nothing to pre-train or warm-start: the state holds it all
            model = build_model(data.n_users, data.n_items, params)
            best_epoch = fit(model, "neumf", params.epochs, params.learning_rate)[0]
            return _Phases(model, {"neumf": best_epoch}, None, None)
        model = build_model(data.n_users, data.n_items, params)
        best_epochs: dict[str, int] = {}
        if warm_start is not None:
            import_weights(model, grow_weights(export_weights(model), warm_start))
        elif pretrain:
            halves = {}
            for arch in ("gmf", "mlp"):
                half = build_model(data.n_users, data.n_items, params, architecture=arch)
                best_epochs[arch] = fit(half, arch, params.pretrain_epochs, params.learning_rate)[0]
                halves[arch] = export_weights(half)
            import_weights(model, fuse_pretrained(halves["gmf"], halves["mlp"]))
        # The fused pre-trained model is already good (and its Adam state is gone): fine-tune with a smaller step.
        learning_rate = params.finetune_learning_rate if pretrain else params.learning_rate
        best_epochs["neumf"], best_hr, best_ndcg = fit(model, "neumf", params.epochs, learning_rate)
        return _Phases(model, best_epochs, best_hr, best_ndcg, snapshots)


def with_validation_rows(
    data: InteractionData, validation: ValidationSet, extra: InteractionData | None = None
) -> InteractionData:
    """``data`` plus the validation positives (their ``weights``, or 1.0) and ``extra`` rows, for the refit."""
    weights = np.ones(len(validation.user_idx), np.float32) if validation.weights is None else validation.weights
    parts = [(data.user_idx, data.item_idx, data.weights), (validation.user_idx, validation.item_idx, weights)]
    if extra is not None:
        parts.append((extra.user_idx, extra.item_idx, extra.weights))
    users, items, merged = merge_duplicates(*(np.concatenate(column) for column in zip(*parts, strict=True)), how="max")
    return InteractionData(users, items, merged, data.n_users, data.n_items)


def train_ncf(
    data: InteractionData,
    params: NCFParams | None = None,
    *,
    validation: ValidationSet | tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    on_epoch: OnEpoch | None = None,
    warm_start: WarmStart | None = None,
    should_stop: Callable[[], bool] | None = None,
    refit_extra: InteractionData | None = None,
) -> TrainResult:
    """Train NeuMF on implicit positives with BCE, Adam and uniform negatives resampled every epoch.

    With ``validation`` (a :class:`ValidationSet` or a ``(users, items, negatives)`` tuple, e.g. from
    :func:`validation_split`), every epoch is scored by validation HR@10 and each phase stops after
    ``params.patience`` epochs without improvement; the best epoch's weights are restored. Then, with
    ``params.refit`` (default), the model is trained again from scratch on ``data`` plus the validation
    positives for exactly the epochs chosen (per phase), and that model is returned: the held-out rows are
    each user's most recent interactions, too informative to leave out of the final model (about +0.01
    HR@10 on ML-1M). ``best_val_hr`` / ``best_val_ndcg`` are the selection run's. Without ``validation``,
    exactly ``params.epochs`` epochs are run.

    ``on_epoch(epoch, epochs, loss, val_hr)`` is called after every epoch of every phase (pre-training,
    NeuMF, refit); ``epoch`` counts them all and ``epochs`` is the current estimate of the total (an upper
    bound until the refit's length is known). ``should_stop()`` is polled every 64 steps and after each
    epoch; when it returns True, :class:`TrainingCancelled` is raised. ``warm_start`` starts from a previous
    version's weights (grown to the new users/items) and skips pre-training. ``refit_extra`` rows join the
    refit (not the selection run): the service adds the holdout it measured the selection model on, so that
    the model it serves has seen every user's latest interactions; ``selection_weights`` is then the measured
    model.
    """
    params = params or NCFParams()
    if isinstance(validation, tuple):
        validation = ValidationSet(*(np.asarray(a) for a in validation))
    if validation is not None and len(validation.user_idx) == 0:
        validation = None
    configure_threads()
    keras.utils.set_random_seed(params.seed)
    started = time.perf_counter()
    run = _Run(params, on_epoch, should_stop)
    refit = params.refit and validation is not None
    per_pass = params.epochs + (2 * params.pretrain_epochs if params.pretrain and warm_start is None else 0)
    run.expected = per_pass * (2 if refit else 1)
    selected = run.phases(data, validation, warm_start)
    final = selected
    if refit:
        all_rows = with_validation_rows(data, validation, refit_extra)
        best = selected.best_epochs["neumf"]
        resume = best - params.refit_epochs
        if params.refit_epochs and resume in selected.snapshots:
            # Only the last `refit_epochs` epochs again, on all the data, from where the selection run was then.
            run.expected = run.done + best - resume
            continue_from = (resume, selected.snapshots[resume])
            final = run.phases(all_rows, None, None, selected.best_epochs, "refit-", continue_from=continue_from)
        else:
            run.expected = run.done + sum(selected.best_epochs.values())
            final = run.phases(all_rows, None, warm_start, selected.best_epochs, "refit-")
        selected.snapshots.clear()
    return TrainResult(
        model=final.model,
        weights=export_weights(final.model),
        history=run.history,
        best_epoch=selected.best_epochs["neumf"],
        seconds=time.perf_counter() - started,
        params=params,
        best_val_hr=selected.best_val_hr,
        best_val_ndcg=selected.best_val_ndcg,
        pretrain_best_epochs={k: v for k, v in selected.best_epochs.items() if k != "neumf"},
        refit=refit,
        selection_weights=export_weights(selected.model) if refit else None,
    )
