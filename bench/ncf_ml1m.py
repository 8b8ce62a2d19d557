"""NeuMF on MovieLens-1M with the NCF leave-one-out protocol (He et al. 2017), beside popularity and implicit ALS.

Run from the project root::

    .venv/bin/python bench/ncf_ml1m.py [--seeds 3] [--quick] [--data PATH] [--params '{"epochs": 10}']

Each seed trains in a fresh child process (so its wall time and peak RSS are its own) through
``training.ncf.train_ncf``. Epochs are chosen by early stopping on a validation split taken from the training
file only (each user's last training row + 99 sampled negatives); the test file is used once, at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from training.evaluation import full_catalog_metrics, ncf_protocol_metrics, popularity_scores  # noqa: E402
from training.ncf.data import InteractionData, ValidationSet, recency_multiplier, validation_split  # noqa: E402
from training.ncf.params import NCFParams  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "ml-1m" / "ncf"
VALIDATION_SEED = 1234
TIME_ORDERED_USERS = 2998  # users 0..2997 have their training rows in time order (see SOURCE.md)


def load_ncf(data_dir: Path) -> dict[str, np.ndarray]:
    """Read the three NCF files: train (user, item), test (user, item) and the (n_test, 99) negatives."""
    train = np.loadtxt(data_dir / "ml-1m.train.rating", dtype=np.int64, usecols=(0, 1), delimiter="\t")
    test = np.loadtxt(data_dir / "ml-1m.test.rating", dtype=np.int64, usecols=(0, 1), delimiter="\t")
    users, negatives = [], []
    with open(data_dir / "ml-1m.test.negative", encoding="ascii") as fh:
        for line in fh:
            head, *rest = line.rstrip("\n").split("\t")
            users.append(int(head.strip("()").split(",")[0]))
            negatives.append([int(x) for x in rest if x])
    negatives_arr = np.asarray(negatives, dtype=np.int64)
    if not np.array_equal(np.asarray(users), test[:, 0]):
        raise ValueError("test.negative and test.rating are not aligned by user")
    return {
        "train_users": train[:, 0],
        "train_items": train[:, 1],
        "test_users": test[:, 0],
        "test_items": test[:, 1],
        "negatives": negatives_arr,
    }


def validation_order(train_users: np.ndarray) -> np.ndarray:
    """Row order used to pick each user's validation row (the largest value is held out).

    Per ../SOURCE.md, the rebuilt train file lists users 0..2997 (1-based 1..2998, the verbatim ratings.dat
    prefix) in time order, but every later user's rows by item id: their last row is their highest NCF item id,
    i.e. one of the items that entered the catalogue last -- mostly rare ones, a biased stand-in for "next item"
    (popularity scores validation HR@10 0.39 on the time-ordered users but 0.01 on the others, and 0.45 on the
    test file). So the time-ordered users hold out their latest training row, the others a seeded random row
    (popularity: 0.56 there, 0.48 overall).
    """
    order = np.arange(len(train_users), dtype=np.float64)
    unordered = train_users >= TIME_ORDERED_USERS
    rng = np.random.default_rng(VALIDATION_SEED)
    order[unordered] = rng.random(int(unordered.sum()))
    return order


def split(
    raw: dict[str, np.ndarray], params: NCFParams | None = None
) -> tuple[InteractionData, InteractionData, ValidationSet]:
    """The whole training file (binary implicit), the same minus the validation rows, and the validation set.
    Validation comes from the training file only; the test file is never used for training.

    Weights are 1.0, times the recency multiplier of ``params`` (as ``training.pipeline.run`` applies it) for
    the users whose rows are in time order; the others' order is unknown and they keep 1.0."""
    n_users = int(max(raw["train_users"].max(), raw["test_users"].max())) + 1
    n_items = int(max(raw["train_items"].max(), raw["test_items"].max(), raw["negatives"].max())) + 1
    users = raw["train_users"]
    params = params or NCFParams()
    weights = recency_multiplier(
        users,
        np.arange(len(users)),
        boost=params.recency_boost,
        tau=params.recency_tau,
        known=users < TIME_ORDERED_USERS,
    )
    data = InteractionData(users, raw["train_items"], weights, n_users, n_items)
    train, validation = validation_split(data, order=validation_order(raw["train_users"]), k=99, seed=VALIDATION_SEED)
    return data, train, validation


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_worker(args: argparse.Namespace) -> dict:
    """Train one seed and evaluate it; returns a JSON-serialisable result."""
    from recommendations.scoring import NeuMFScorer
    from training.ncf import train_ncf

    raw = load_ncf(args.data)
    params = NCFParams.from_dict({**json.loads(args.params), "seed": args.seed})
    full, train, validation = split(raw, params)

    started = time.perf_counter()

    def on_epoch(epoch: int, epochs: int, loss: float, val_hr: float | None) -> None:
        val = "refit (no validation)" if val_hr is None else f"val HR@10 {val_hr:.4f}"
        print(
            f"    seed {args.seed} epoch {epoch}/{epochs} loss {loss:.4f} {val} [{time.perf_counter() - started:.0f}s]",
            file=sys.stderr,
            flush=True,
        )

    result = train_ncf(train, params, validation=validation, on_epoch=on_epoch)
    rss = peak_rss_mib()
    scorer = NeuMFScorer(result.weights)
    ncf = ncf_protocol_metrics(
        lambda u, i: scorer.score_pairs(u, i, logit=True), raw["test_users"], raw["test_items"], raw["negatives"]
    )
    full = full_catalog_metrics(
        lambda users: np.stack([scorer.score_items(u, logit=True) for u in users]),
        csr(full),
        raw["test_users"],
        raw["test_items"],
    )
    return {
        "seed": args.seed,
        "hr": ncf["hr_at_10"],
        "ndcg": ncf["ndcg_at_10"],
        "full_hr": full["hr_at_10"],
        "full_ndcg": full["ndcg_at_10"],
        "coverage": full["coverage"],
        "seconds": result.seconds,
        "rss_mib": rss,
        "best_epoch": result.best_epoch,
        "pretrain_best": result.pretrain_best_epochs,
        "epochs_run": len(result.history),
        "val_hr": result.best_val_hr,
        "params": params.to_dict(),
    }


def csr(data: InteractionData):
    import scipy.sparse as sp

    return sp.csr_matrix(
        (np.ones(len(data), dtype=np.float32), (data.user_idx, data.item_idx)), shape=(data.n_users, data.n_items)
    )


def baselines(raw: dict[str, np.ndarray], train: InteractionData) -> list[dict]:
    import implicit
    from threadpoolctl import threadpool_limits

    rows = []
    pop = popularity_scores(np.bincount(train.item_idx, minlength=train.n_items))
    ncf = ncf_protocol_metrics(pop.score_pairs, raw["test_users"], raw["test_items"], raw["negatives"])
    full = full_catalog_metrics(pop.score_users, csr(train), raw["test_users"], raw["test_items"])
    rows.append({"name": "Popularity", **ncf, **{f"full_{k}": v for k, v in full.items()}, "seconds": 0.0})
    matrix = csr(train)
    with threadpool_limits(1, "blas"):
        als = implicit.cpu.als.AlternatingLeastSquares(factors=64, iterations=15, regularization=0.01, random_state=0)
        started = time.perf_counter()
        als.fit(matrix, show_progress=False)
        seconds = time.perf_counter() - started
    user_f, item_f = np.asarray(als.user_factors), np.asarray(als.item_factors)
    ncf = ncf_protocol_metrics(
        lambda u, i: np.einsum("ij,ij->i", user_f[u], item_f[i]), raw["test_users"], raw["test_items"], raw["negatives"]
    )
    full = full_catalog_metrics(lambda users: user_f[users] @ item_f.T, matrix, raw["test_users"], raw["test_items"])
    rows.append(
        {
            "name": "implicit ALS (64 factors, 15 it., reg 0.01)",
            **ncf,
            **{f"full_{k}": v for k, v in full.items()},
            "seconds": seconds,
        }
    )
    return rows


def environment() -> dict[str, str]:
    import keras
    import tensorflow as tf

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        ram = f"{int(mem.split()[1]) / 1024**2:.1f} GiB"
    except (OSError, StopIteration):
        ram = "unknown"
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
    }


def fmt(values: list[float], digits: int = 4) -> str:
    arr = np.asarray(values, dtype=float)
    return f"{arr.mean():.{digits}f} ± {arr.std(ddof=1) if len(arr) > 1 else 0.0:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="directory of the ml-1m NCF files")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 seed, at most 3 epochs, no pre-training")
    parser.add_argument("--params", default="{}", help="JSON overrides of NCFParams defaults")
    parser.add_argument("--no-baselines", action="store_true", help="skip popularity and ALS")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.data = args.data.resolve()
    if args.quick:
        args.seeds = 1
        args.params = json.dumps({**json.loads(args.params), "epochs": 3, "pretrain": False})
    NCFParams.from_dict(json.loads(args.params))  # fail fast on a bad key
    if args.worker:
        print(json.dumps(run_worker(args)))
        return 0

    env = environment()
    print("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()))
    params = NCFParams.from_dict(json.loads(args.params))
    print(f"NCFParams: {json.dumps(params.to_dict())}")
    raw = load_ncf(args.data)
    full, train, validation = split(raw, params)  # the baselines fit `full` unweighted (as counts)
    print(
        f"Data: {full.n_users} users, {full.n_items} items, {len(full)} training positives of which "
        f"{len(validation.user_idx)} held out for validation (early stopping), {len(raw['test_users'])} test users"
    )
    # The baselines need no validation: they fit the whole training file, as the refit NeuMF finally does.
    base_rows = [] if args.no_baselines else baselines(raw, full)
    for row in base_rows:
        print(
            f"{row['name']}: HR@10 {row['hr_at_10']:.4f} NDCG@10 {row['ndcg_at_10']:.4f} "
            f"(full catalog HR@10 {row['full_hr_at_10']:.4f}, coverage {row['full_coverage']:.3f}) "
            f"fit {row['seconds']:.1f}s"
        )

    results = []
    for seed in range(args.seeds):
        load_before = os.getloadavg()[0]
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--worker",
            "--seed",
            str(seed),
            "--data",
            str(args.data),
            "--params",
            args.params,
        ]
        proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)  # noqa: S603
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["load"] = (load_before, os.getloadavg()[0])
        results.append(res)
        print(
            f"seed {seed}: HR@10 {res['hr']:.4f} NDCG@10 {res['ndcg']:.4f} | train {res['seconds']:.1f}s, "
            f"peak RSS {res['rss_mib']:.0f} MiB, best epoch {res['best_epoch']} of {res['epochs_run']} run "
            f"(pre-train best {res['pretrain_best'] or '-'}), val HR@10 {res['val_hr']:.4f} | full catalog "
            f"HR@10 {res['full_hr']:.4f} coverage {res['coverage']:.3f} | load avg {res['load'][0]:.2f}"
            f"->{res['load'][1]:.2f}",
            flush=True,
        )

    print(
        f"\nNeuMF mean ± std over {len(results)} seed(s): HR@10 {fmt([r['hr'] for r in results])}, "
        f"NDCG@10 {fmt([r['ndcg'] for r in results])}, train {fmt([r['seconds'] for r in results], 1)} s, "
        f"peak RSS max {max(r['rss_mib'] for r in results):.0f} MiB"
    )
    print(
        "\n| model | HR@10 | NDCG@10 | full-catalog HR@10 | full-catalog NDCG@10 | coverage@10 | train time (s) "
        "| peak RSS (MiB) | epochs (best) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in base_rows:
        print(
            f"| {row['name']} | {row['hr_at_10']:.4f} | {row['ndcg_at_10']:.4f} | {row['full_hr_at_10']:.4f} | "
            f"{row['full_ndcg_at_10']:.4f} | {row['full_coverage']:.3f} | {row['seconds']:.1f} | - | - |"
        )
    epochs = ", ".join(str(r["best_epoch"]) for r in results)
    print(
        f"| NeuMF ({len(results)} seeds, mean ± std) | {fmt([r['hr'] for r in results])} | "
        f"{fmt([r['ndcg'] for r in results])} | {fmt([r['full_hr'] for r in results])} | "
        f"{fmt([r['full_ndcg'] for r in results])} | {fmt([r['coverage'] for r in results], 3)} | "
        f"{fmt([r['seconds'] for r in results], 1)} | {max(r['rss_mib'] for r in results):.0f} | {epochs} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
