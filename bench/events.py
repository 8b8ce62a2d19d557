"""The batched events API (`POST /api/v1/events`, 1,000 events a request) through gunicorn, PostgreSQL and Redis.

Run from the project root::

    .venv/bin/python bench/events.py [--workers 2] [--client python|wrk] [--batches 300] [--concurrency 4]

The server is started as the Procfile does (`gunicorn recsys_site.wsgi -c recsys_site/gunicorn_conf.py --workers N
--timeout 60`: threaded workers with keep-alive, DEBUG=0) on a free loopback port. The load comes from this machine too:

* `--client python` (default): threads posting request bodies that were all built before the clock starts, each
  response read and parsed, so the accepted count is exact and checked against PostgreSQL. Its CPU time is shown.
* `--client wrk`: Debian's wrk (installed on demand as root) for `--duration` seconds, replacing a token in
  ~50 body templates per request so event ids and new items stay unique. wrk does not count the requests still
  in flight when it stops, so PostgreSQL may hold up to `connections` batches more than wrk saw accepted.

Each batch: 1,000 events from a pool of 100,000 users over a 20,000-item catalogue (created before the run),
~2% naming items the catalogue does not have yet, event types mixed (view, click, add_to_cart, purchase, rating,
like, search), ~30% with an event_id, ~half with an explicit timestamp.

Also shown: the server's CPU time per batch (gunicorn and the bench database's PostgreSQL backends, from /proc),
which varies less with the machine's load than the wall-clock rate. Stores: database recsys_bench_events (dropped and
recreated; any name containing "bench" via --database-url) and Redis database 12.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import (  # noqa: E402 - needs the bench directory on sys.path
    Gunicorn,
    LoadResult,
    PostgresCpu,
    bench_env,
    bench_stores,
    bench_tenant,
    django_setup,
    exit_on_sigterm,
    flush_redis,
    load_average,
    machine_description,
    now_utc,
    recreate_database,
    run_python_client,
    run_wrk,
    timed,
    wal_mark,
    wal_since,
)

TARGET_EVENTS_PER_S = 5_000
USERS = 100_000
CATALOGUE = 20_000
NEW_ITEM_SHARE = 0.02
EVENT_ID_SHARE = 0.30
TIMESTAMP_SHARE = 0.5
EVENT_MIX = {"view": 55, "click": 15, "add_to_cart": 8, "purchase": 5, "rating": 7, "like": 8, "search": 2}
QUERIES = ["earbuds", "running shoes", "usb c cable", "coffee grinder", "desk lamp", "yoga mat", "phone case"]
PLACEHOLDER = "@@"  # replaced per request by wrk (never appears otherwise: ids are [A-Za-z0-9_.:-])


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, the Procfile's)")
    parser.add_argument("--client", choices=("python", "wrk"), default="python")
    parser.add_argument("--batches", type=int, default=300, help="python client: measured requests (default 300)")
    parser.add_argument("--batch-size", type=int, default=1000, help="events per request (at most 1,000)")
    parser.add_argument("--concurrency", type=int, default=None, help="requests in flight (default 2 x workers)")
    parser.add_argument("--duration", type=float, default=30.0, help="wrk: seconds of load (default 30)")
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured batches first (default 2 x workers)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default=None, help="a bench database (its name must contain 'bench')")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="broker and cache (db 10-12)")
    parser.add_argument("--keep-db", action="store_true", help="reuse the bench database instead of recreating it")
    return parser.parse_args()


class EventMaker:
    """Realistic batches, deterministic for a seed; `tag` makes ids unique across batches (or is wrk's token)."""

    def __init__(self, seed: int, run: str):
        self.random = random.Random(seed)
        self.run = run
        self.types = list(EVENT_MIX)
        self.weights = list(EVENT_MIX.values())
        self.now = datetime.now(UTC)

    def event(self, tag: str, index: int) -> dict[str, Any]:
        rnd = self.random
        # Skewed like real traffic: a few users and items get most of the events.
        user = int(USERS * rnd.random() ** 2)
        kind = rnd.choices(self.types, self.weights)[0]
        event: dict[str, Any] = {"user_id": f"u{user}", "event_type": kind}
        if kind == "search":
            event["query"] = rnd.choice(QUERIES)
        elif rnd.random() < NEW_ITEM_SHARE:
            event["item_id"] = f"new-{self.run}-{tag}-{index}"
        else:
            event["item_id"] = f"sku-{int(CATALOGUE * rnd.random() ** 1.5)}"
        if kind in ("purchase", "add_to_cart"):
            event["value"] = rnd.randint(1, 3)
        elif kind == "rating":
            event["value"] = rnd.randint(1, 5)
        if rnd.random() < TIMESTAMP_SHARE:
            moment = self.now - timedelta(seconds=rnd.randint(0, 7 * 86400))
            event["timestamp"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if rnd.random() < EVENT_ID_SHARE:
            event["event_id"] = f"ev-{self.run}-{tag}-{index}"
        return event

    def body(self, tag: str, size: int) -> str:
        return json.dumps({"events": [self.event(tag, i) for i in range(size)]}, separators=(",", ":"))


def wait_idle(postgres: PostgresCpu, timeout: float = 60) -> None:
    """Until no backend of the bench database runs a statement (batches still in flight have committed)."""
    deadline = time.monotonic() + timeout
    while postgres.busy() and time.monotonic() < deadline:
        time.sleep(0.2)


def main() -> int:
    args = parse_args()
    exit_on_sigterm()
    if not 1 <= args.batch_size <= 1000:
        raise SystemExit("--batch-size must be 1-1000")
    concurrency = args.concurrency or 2 * args.workers
    warmup = args.warmup if args.warmup is not None else 2 * args.workers
    stores = bench_stores(
        database_url=args.database_url, default_database="recsys_bench_events", redis_url=args.redis_url
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-events-"))
    env = bench_env(stores, tmp / "var")
    try:
        print(f"machine: {machine_description()}")
        print(f"date: {now_utc()}; load average before set-up: {load_average()}")
        if not args.keep_db:
            with timed("recreate database + migrate"):
                recreate_database(stores, env)
        flush_redis(stores)
        django_setup(env)

        from catalog.services import items_ensure
        from interactions.models import Event

        tenant, key = bench_tenant(name=f"bench events {time.time():.0f}")
        with timed(f"catalogue of {CATALOGUE:,} items"):
            items_ensure(tenant=tenant, external_ids=[f"sku-{i}" for i in range(CATALOGUE)])
        run = secrets.token_hex(3)
        maker = EventMaker(args.seed, run)
        headers = {"X-API-Key": key, "Content-Type": "application/json"}

        with Gunicorn(env, workers=args.workers, log_path=tmp / "gunicorn.log") as server:
            url = server.url + "/api/v1/events"
            print(f"server: {' '.join(server.command[1:])} (DEBUG=0, PostgreSQL + Redis)")
            if warmup:
                warm = run_python_client(
                    url,
                    bodies=[maker.body(f"w{i}", args.batch_size).encode() for i in range(warmup)],
                    headers=headers,
                    concurrency=min(warmup, concurrency),
                )
                if warm.errors:
                    raise RuntimeError(f"warm-up failed: {warm.error_detail}\n{server.log_tail()}")
            before = Event.objects.filter(tenant=tenant).count()
            wal = wal_mark(stores, checkpoint=True)
            postgres = PostgresCpu(stores)
            load_start = load_average()
            if args.client == "python":
                with timed(f"build {args.batches} request bodies"):
                    bodies = [maker.body(f"b{i}", args.batch_size).encode() for i in range(args.batches)]
                gunicorn0 = server.cpu_seconds()
                postgres.start()
                with postgres.sampling():
                    result = run_python_client(url, bodies=bodies, headers=headers, concurrency=concurrency)
                accepted = sum(r.get("accepted", 0) for r in result.responses if isinstance(r, dict))
                duplicates = sum(r.get("duplicates", 0) for r in result.responses if isinstance(r, dict))
                rejected = sum(len(r.get("rejected", [])) for r in result.responses if isinstance(r, dict))
            else:
                templates = [maker.body(f"{PLACEHOLDER}t{i}", args.batch_size) for i in range(50)]
                gunicorn0 = server.cpu_seconds()
                postgres.start()
                with postgres.sampling():
                    result, accepted = run_wrk(
                        url,
                        method="POST",
                        headers=headers,
                        bodies=templates,
                        token=PLACEHOLDER,
                        sum_field="accepted",
                        threads=1,
                        connections=concurrency,
                        duration_s=args.duration,
                        timeout_s=60,
                    )
                duplicates = rejected = None
            load_end = load_average()
            wait_idle(postgres)
            gunicorn_cpu, postgres_cpu = server.cpu_seconds() - gunicorn0, postgres.seconds()
            postgres.close()
            wal_mib, checkpoints = wal_since(stores, wal)
            peak_rss = server.worker_peak_rss_mib()
        stored = Event.objects.filter(tenant=tenant).count() - before
        report(
            args,
            result,
            accepted=accepted,
            duplicates=duplicates,
            rejected=rejected,
            stored=stored,
            concurrency=concurrency,
            gunicorn_cpu=gunicorn_cpu,
            postgres_cpu=postgres_cpu,
            peak_rss=peak_rss,
            loads=(load_start, load_end),
        )
        print(f"WAL written during the run: {wal_mib:,.0f} MiB; checkpoints started: {checkpoints}")
        if args.client == "python":
            expected = args.batches * args.batch_size
            ok = result.errors == 0 and result.requests == args.batches and stored == accepted == expected
        else:
            ok = result.errors == 0 and accepted <= stored <= accepted + concurrency * args.batch_size
        print(f"verification: {'OK' if ok else 'MISMATCH'}")
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def report(
    args: argparse.Namespace,
    result: LoadResult,
    *,
    accepted: int,
    duplicates: int | None,
    rejected: int | None,
    stored: int,
    concurrency: int,
    gunicorn_cpu: float,
    postgres_cpu: float,
    peak_rss: list[float],
    loads: tuple[str, str],
) -> None:
    rate = accepted / result.duration_s if result.duration_s else 0.0
    served = stored / args.batch_size  # requests the server completed, in flight at the end included
    per_batch = 1000 / served if served else 0.0
    print()
    print(f"client: {result.client}; gunicorn workers: {args.workers}; batch size {args.batch_size}")
    print(f"load: {result.summary()}")
    print(f"status codes: {result.status_counts}")
    extra = "" if duplicates is None else f"; duplicates {duplicates:,}, rejected {rejected:,}"
    print(f"events accepted: {accepted:,} in {result.duration_s:.1f}s = {rate:,.0f} events/s{extra}")
    if args.client == "wrk":
        print(f"events stored in PostgreSQL by the measured load: {stored:,} (wrk saw {accepted:,} accepted; the rest")
        print("  were in flight when it stopped)")
    else:
        print(f"events stored in PostgreSQL by the measured load: {stored:,}")
    print(
        f"server CPU per batch: gunicorn {gunicorn_cpu * per_batch:.0f} ms + "
        f"PostgreSQL {postgres_cpu * per_batch:.0f} ms "
        f"(totals {gunicorn_cpu:.1f}s + {postgres_cpu:.1f}s over {served:.0f} batches)"
    )
    print(f"gunicorn workers' peak RSS: {', '.join(f'{mib:.0f}' for mib in peak_rss)} MiB")
    print(f"load average: {loads[0]} at the start, {loads[1]} at the end")
    verdict = "meets" if rate >= TARGET_EVENTS_PER_S and result.errors == 0 else "misses"
    print(
        f"verdict: {rate:,.0f} events/s with {result.errors} errors {verdict} the target of >= "
        f"{TARGET_EVENTS_PER_S:,} events/s with zero errors"
    )


if __name__ == "__main__":
    sys.exit(main())
