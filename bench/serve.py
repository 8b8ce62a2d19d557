"""Serving speed through gunicorn: personalised top-10 (uncached and cached), similar items, trending, home,
search; a 100,000-item catalogue's top-10 latency; a web worker's memory with 10 tenants' models loaded.

Run from the project root::

    .venv/bin/python bench/serve.py [--workers 2] [--duration 20] [--connections 4] [--train]

Set-up (not timed): a fresh bench database; an ML-1M-sized shop (6,040 users x 3,706 movies) whose catalogue
is built from ../shared/datasets/ml-1m/movies.dat (title, first genre) and whose 1,000,186 ratings are
imported through the ordinary import path; an active NeuMF model of the production shape (NCFParams'
defaults: 256 GMF factors, MLP 64-32-16): with `--train` trained through the service (about five minutes),
otherwise random weights of that shape exported the way training exports them (serving's cost does not
depend on the values). The server is started as the Procfile does (`gunicorn recsys_site.wsgi --workers N`,
DEBUG=0, PostgreSQL, Redis) and driven by wrk on loopback with API-key auth on and a rate limit high enough
not to throttle.

Stores: database recsys_bench_serve (dropped and recreated; any name containing "bench" via --database-url)
and Redis database 11. Targets: uncached top-10 >= 1,000 req/s with p99 <= 25 ms and no errors; cached
>= 2,000 req/s with p99 <= 10 ms; every other endpoint p99 <= 50 ms.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from loadgen import (  # noqa: E402 - needs the bench directory on sys.path
    ROOT,
    Gunicorn,
    LoadResult,
    bench_env,
    bench_stores,
    bench_tenant,
    cpu_probe_ms,
    django_setup,
    flush_redis,
    load_average,
    machine_description,
    now_utc,
    proc_status_kib,
    recreate_database,
    run_wrk,
    timed,
)

from training.ncf.params import NCFParams  # noqa: E402 - needs the project root on sys.path

ML1M = ROOT.parent / "shared" / "datasets" / "ml-1m"
# The production shape: what a new tenant's training config trains (NCFParams' benchmarked defaults).
EMBEDDING, MLP = NCFParams.embedding_dim, NCFParams.mlp_layers
TARGETS = {"uncached": (1000, 25), "cached": (2000, 10), "other": (None, 50)}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, the Procfile's)")
    parser.add_argument("--connections", type=int, default=None, help="wrk connections (default 2 x workers)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per scenario")
    parser.add_argument("--train", action="store_true", help="train the model instead of random weights")
    parser.add_argument("--skip-large", action="store_true", help="skip the 100k-item and 10-tenant parts")
    parser.add_argument("--database-url", default=None)
    return parser.parse_args()


# --- set-up ---------------------------------------------------------------------------------------


def movie_catalog(path: Path) -> None:
    with open(ML1M / "movies.dat", encoding="latin-1") as source, open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "main_category", "sub_category", "actual_price"])
        rng = random.Random(1)
        for line in source:
            movie_id, title, genres = line.rstrip("\n").split("::")
            genre = genres.split("|")
            writer.writerow([movie_id, title, genre[0], genre[1] if len(genre) > 1 else "", rng.choice([5, 8, 10, 15])])


def random_model(tenant, user_ids: list[str], item_ids: list[str], seed: int = 0):
    """Publish and activate a version with weights of the production shape, exported like training does."""
    from django.utils import timezone

    from training.models import ModelVersion
    from training.services import model_version_activate
    from training.store import METADATA_FILE, WEIGHTS_FILE, get_model_store, write_json

    rng = np.random.default_rng(seed)
    n_users, n_items, half = len(user_ids), len(item_ids), MLP[0] // 2

    def normal(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.1, size=shape).astype(np.float32)

    weights = {
        "gmf_user": normal(n_users, EMBEDDING),
        "gmf_item": normal(n_items, EMBEDDING),
        "mlp_user": normal(n_users, half),
        "mlp_item": normal(n_items, half),
        "out_w": normal(EMBEDDING + MLP[-1], 1),
        "out_b": normal(1),
    }
    for j, (width_in, width_out) in enumerate(zip(MLP[:-1], MLP[1:], strict=True)):
        weights[f"mlp_w{j}"] = normal(width_in, width_out)
        weights[f"mlp_b{j}"] = normal(width_out)
    store = get_model_store()
    staging = store.staging_dir()
    np.savez(staging / WEIGHTS_FILE, **weights)
    version_number = ModelVersion.objects.filter(tenant=tenant).count() + 1
    write_json(staging / METADATA_FILE, {"user_ids": user_ids, "item_ids": item_ids, "version": version_number})
    uri = store.publish(staging, tenant_id=tenant.pk, version=version_number)
    version = ModelVersion.objects.create(
        tenant=tenant,
        version=version_number,
        artifact_uri=uri,
        params={"embedding_dim": EMBEDDING, "mlp_layers": list(MLP)},
        n_users=n_users,
        n_items=n_items,
        trained_at=timezone.now(),
    )
    return model_version_activate(tenant=tenant, version_id=version.pk)


def ml1m_shop(var_dir: Path, *, train: bool):
    from catalog.imports import catalog_import_create, catalog_import_run
    from interactions.imports import interaction_import_create, interaction_import_run
    from interactions.models import Event
    from recommendations.associations import compute_associations
    from recommendations.popularity import compute_snapshot
    from training.models import TrainingJob
    from training.services import training_job_run

    tenant, key = bench_tenant(name="ML-1M shop", scopes=("recommend", "ingest", "train"))
    catalog_csv = var_dir / "movies.csv"
    movie_catalog(catalog_csv)
    with timed("catalog import (3,883 movies)"), open(catalog_csv, "rb") as handle:
        job = catalog_import_run(job_id=catalog_import_create(tenant=tenant, uploaded=handle, params={}).pk)
    with timed("ratings import (1,000,186 rows)"), open(ML1M / "ratings_reconstructed.csv", "rb") as handle:
        job = interaction_import_create(
            tenant=tenant, uploaded=handle, params={"mapping": '{"movie_id": "item_id"}', "train": "false"}
        )
        job = interaction_import_run(job_id=job.pk)
    print(f"  {job.rows_imported:,} events")
    with timed("popularity, trending and bought-together"):
        compute_snapshot(tenant=tenant)
        compute_associations(tenant=tenant)
    users = sorted(set(Event.objects.filter(tenant=tenant).values_list("user_id", flat=True)))
    items = sorted(set(Event.objects.filter(tenant=tenant).values_list("item__external_id", flat=True)))
    if train:
        with timed("training NeuMF through the service"):
            job = TrainingJob.objects.create(tenant=tenant, trigger=TrainingJob.Trigger.CLI)
            training_job_run(job_id=job.pk, echo=lambda line: print("   ", line, flush=True))
    else:
        random_model(tenant, users, items)
    with timed("VACUUM (ANALYZE), as autovacuum would"):
        settle_database()
    return tenant, key, users, items


def synthetic_shop(name: str, *, n_users: int, n_items: int, key_scopes=("recommend",)):
    """A tenant with n_items items (ORM bulk insert), a few events, and a random model over them."""
    from catalog.models import Item
    from interactions.models import Event
    from recommendations.popularity import compute_snapshot

    tenant, key = bench_tenant(name=name, scopes=key_scopes)
    categories = ["books", "toys", "garden", "audio", "kitchen", "sports", "beauty", "tools"]
    items = [f"I{j:06d}" for j in range(n_items)]
    Item.objects.bulk_create(
        [
            Item(
                tenant=tenant,
                external_id=ext,
                name=f"Item {j} {categories[j % 8]}",
                main_category=categories[j % 8],
                price=float(1 + j % 50),
            )
            for j, ext in enumerate(items)
        ],  # fmt: skip
        batch_size=5000,
    )
    users = [f"U{j:06d}" for j in range(n_users)]
    pks = list(Item.objects.filter(tenant=tenant).values_list("pk", flat=True)[:2000])
    rng = random.Random(3)
    from django.utils import timezone

    now = timezone.now()
    Event.objects.bulk_create(
        [
            Event(tenant=tenant, user_id=rng.choice(users), event_type="view", item_id=rng.choice(pks), timestamp=now)
            for _ in range(5000)
        ],  # fmt: skip
        batch_size=5000,
    )
    compute_snapshot(tenant=tenant)
    random_model(tenant, users, items, seed=len(name))
    return tenant, key, users, items


def settle_database() -> None:
    """VACUUM (ANALYZE) the bench database, which autovacuum would otherwise do during a measurement.

    A million-row import qualifies the events table for autovacuum's insert-triggered vacuum and analyze,
    which would otherwise start at some point of the first minute, during a measurement, on two shared
    cores. The steady state this bench measures is after it (about 0.3 s here)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE)")


def warm_histories(tenant, users: list[str]) -> None:
    """Put these users' histories in Redis, as their earlier visits would have (not timed)."""
    from recommendations.history import user_history

    for user_id in users:
        user_history(tenant_id=tenant.pk, user_id=user_id)


def set_result_cache(tenant, seconds: int) -> None:
    from recommendations.tenant_settings import recommendation_settings_update

    recommendation_settings_update(tenant=tenant, data={"result_cache_seconds": seconds})


# --- load -----------------------------------------------------------------------------------------


def scenario(name: str, result: LoadResult, target: tuple[int | None, int]) -> dict:
    rate, p99 = target
    ok = result.errors == 0 and result.p99_ms <= p99 and (rate is None or result.requests_per_s >= rate)
    goal = (f">= {rate:,} req/s, " if rate else "") + f"p99 <= {p99} ms"
    print(f"{name:<34} {result.summary()}  [{goal}: {'met' if ok else 'MISSED'}]", flush=True)
    return {"scenario": name, "result": result, "goal": goal, "met": ok}


def main() -> None:
    args = parse_args()
    connections = args.connections or 2 * args.workers
    stores = bench_stores(
        database_url=args.database_url, default_database="recsys_bench_serve", redis_url="redis://127.0.0.1:6379/11"
    )
    var_dir = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    env = bench_env(stores, var_dir, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    print(f"{now_utc()}  {machine_description()}  load {load_average()}  CPU probe {cpu_probe_ms():.0f} ms")
    try:
        with timed("fresh database"):
            recreate_database(stores, env)
        flush_redis(stores)
        django_setup(env)
        tenant, key, users, items = ml1m_shop(var_dir, train=args.train)
        rng = random.Random(11)
        headers = {"X-API-Key": key, "Content-Type": "application/json"}
        shuffled = rng.sample(users, len(users))
        uncached_users, cold_users, cached_users = shuffled[:2000], shuffled[2000:], shuffled[:300]
        popular_item = "2858"  # American Beauty, the most rated movie
        rows = []
        with Gunicorn(env, workers=args.workers) as server:
            base = server.url + "/api/v1"
            # Long enough for every worker to load the shop (connections are recycled every 100 requests).
            warm = [json.dumps({"user_id": u, "n": 10}) for u in uncached_users[:50]]
            run_wrk(f"{base}/recommendations", method="POST", headers=headers, bodies=warm, duration_s=8,
                    connections=connections)  # fmt: skip
            set_result_cache(tenant, 0)
            time.sleep(2.5)  # serving processes check settings every 2 s
            # First visits: the user's history (seen set) comes from PostgreSQL, then stays in Redis.
            bodies = [json.dumps({"user_id": u, "n": 10}) for u in cold_users]
            result, _ = run_wrk(f"{base}/recommendations", method="POST", headers=headers, bodies=bodies,
                                duration_s=min(args.duration, 4), connections=connections)  # fmt: skip
            if result.requests < len(cold_users):
                rows.append(scenario("top-10, first visit (history from DB)", result, TARGETS["other"]))
            # Returning users (the steady state): history from Redis, the answer computed every time.
            warm_histories(tenant, uncached_users)
            bodies = [json.dumps({"user_id": u, "n": 10}) for u in uncached_users]
            result, _ = run_wrk(f"{base}/recommendations", method="POST", headers=headers, bodies=bodies,
                                duration_s=args.duration, connections=connections)  # fmt: skip
            rows.append(scenario("personalised top-10, uncached", result, TARGETS["uncached"]))
            set_result_cache(tenant, 300)
            time.sleep(2.5)
            bodies = [json.dumps({"user_id": u, "n": 10}) for u in cached_users]
            run_wrk(f"{base}/recommendations", method="POST", headers=headers, bodies=bodies, duration_s=3,
                    connections=connections)  # fmt: skip
            result, _ = run_wrk(f"{base}/recommendations", method="POST", headers=headers, bodies=bodies,
                                duration_s=args.duration, connections=connections)  # fmt: skip
            rows.append(scenario("personalised top-10, cached", result, TARGETS["cached"]))
            user = cached_users[0]
            for name, url in (
                ("similar items (n=20)", f"{base}/items/{popular_item}/similar?n=20"),
                ("bought together (n=10)", f"{base}/items/{popular_item}/bought-together?n=10"),
                ("trending (n=20)", f"{base}/trending?n=20"),
                ("home (limit=20)", f"{base}/home/{user}?limit=20"),
                ("search (limit=20)", f"{base}/search?q=star%20wars&limit=20"),
            ):
                run_wrk(url, headers=headers, duration_s=2, connections=connections)
                result, _ = run_wrk(url, headers=headers, duration_s=args.duration, connections=connections)
                rows.append(scenario(name, result, TARGETS["other"]))
            rss = [proc_status_kib(pid, "VmRSS") / 1024 for pid in server.worker_pids()]
            print(f"web worker RSS with this tenant loaded: {', '.join(f'{r:.0f} MiB' for r in rss)}")

            if not args.skip_large:
                large_part(server, connections, args.duration, rows)
        report(rows, args, connections)
        print(f"CPU probe at the end: {cpu_probe_ms():.0f} ms (a pure-Python loop; higher = a slower host)")
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


def large_part(server: Gunicorn, connections: int, duration: float, rows: list) -> None:
    with timed("a 100,000-item shop (20,000 users)"):
        tenant, key, users, _ = synthetic_shop("Large shop", n_users=20_000, n_items=100_000)
        settle_database()
    set_result_cache(tenant, 0)
    time.sleep(2.5)
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    bodies = [json.dumps({"user_id": u, "n": 10}) for u in random.Random(5).sample(users, 1000)]
    url = server.url + "/api/v1/recommendations"
    # Warm every worker (each loads the catalogue and the model on its first request), then measure.
    run_wrk(url, method="POST", headers=headers, bodies=bodies, duration_s=5, connections=connections)
    single, _ = run_wrk(url, method="POST", headers=headers, bodies=bodies, duration_s=duration, connections=1)
    print(f"100,000-item catalogue, top-10, one client at a time: {single.summary()}")
    loaded, _ = run_wrk(url, method="POST", headers=headers, bodies=bodies, duration_s=duration,
                        connections=connections)  # fmt: skip
    rows.append(scenario("100k-item catalogue top-10 (uncached)", loaded, TARGETS["other"]))
    before = [proc_status_kib(pid, "VmRSS") / 1024 for pid in server.worker_pids()]
    with timed("10 more ML-1M-sized tenants (6,040 users x 3,706 items each)"):
        shops = [synthetic_shop(f"Tenant {k}", n_users=6040, n_items=3706) for k in range(10)]
    for _, shop_key, shop_users, _ in shops:
        shop_bodies = [json.dumps({"user_id": u, "n": 10}) for u in shop_users[:40]]
        run_wrk(url, method="POST", headers={"X-API-Key": shop_key, "Content-Type": "application/json"},
                bodies=shop_bodies, duration_s=1, connections=server.workers * 2)  # fmt: skip
    after = [proc_status_kib(pid, "VmRSS") / 1024 for pid in server.worker_pids()]
    print(
        "web worker RSS before/after loading 10 more tenants' models and catalogues: "
        + ", ".join(f"{b:.0f} -> {a:.0f} MiB" for b, a in zip(before, after, strict=False))
    )


def report(rows: list, args, connections: int) -> None:
    print()
    print("| scenario | req/s | p50 ms | p95 ms | p99 ms | errors | goal | |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        r = row["result"]
        print(
            f"| {row['scenario']} | {r.requests_per_s:,.0f} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} "
            f"| {r.errors} | {row['goal']} | {'met' if row['met'] else 'missed'} |"
        )
    print(f"\ngunicorn --workers {args.workers}; wrk 1 thread, {connections} connections, {args.duration:.0f} s each.")


if __name__ == "__main__":
    main()
