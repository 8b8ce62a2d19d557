"""Bulk import of an ML-1M-sized interactions file into PostgreSQL through the production code path.

Run from the project root::

    .venv/bin/python bench/ingest.py [--rows N] [--mode worker|inline] [--data PATH]

What is timed, end to end: `interaction_import_create` (the upload is copied to the upload store and hashed,
its first chunk prechecked, the job row created and the task sent to the Redis broker), then a real Celery
worker (`celery -A recsys_site worker -Q default -c 2`, as in the Procfile) runs `run_interaction_import`,
until the job row reads `succeeded`, i.e. every row is committed. `--mode inline` runs the task body in this
process instead (no broker; handy under a profiler).

Memory: the peak RSS (VmHWM) of the worker process that ran the import, read from /proc before the worker is
stopped (inline: of this process). It includes Django, pandas and pyarrow themselves; the idle RSS is shown
next to it.

Stores: a database whose name contains "bench" (default recsys_bench, or $DATABASE_URL when it names a bench
database, as `make bench-ingest` sets it), dropped and recreated by each run, and Redis databases 10 (broker)
and 11 (cache), flushed. The data is read from ../shared/datasets and never copied into the repository
(`--rows` writes its prefix to a temporary directory).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import (  # noqa: E402 - needs the bench directory on sys.path
    ROOT,
    VENV_BIN,
    PostgresCpu,
    bench_env,
    bench_stores,
    bench_tenant,
    child_pids,
    cpu_seconds,
    database_size,
    django_setup,
    exit_on_sigterm,
    flush_redis,
    load_average,
    machine_description,
    now_utc,
    proc_status_kib,
    recreate_database,
    timed,
    wal_mark,
    wal_since,
)

DEFAULT_DATA = ROOT.parent / "shared" / "datasets" / "ml-1m" / "ratings_reconstructed.csv"
MAPPING = {"movie_id": "item_id"}
TARGET_ROWS_PER_S = 30_000
WORKER_COMMAND = ["celery", "-A", "recsys_site", "worker", "-Q", "default", "-c", "2", "-n", "bench-ingest@%h"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="interactions CSV (default: ML-1M)")
    parser.add_argument("--rows", type=int, default=None, help="import only the first N data rows")
    parser.add_argument(
        "--mode",
        choices=("worker", "inline"),
        default="worker",
        help="worker: a real Celery worker through Redis (default); inline: the task body in this process",
    )
    parser.add_argument("--database-url", default=None, help="a bench database (its name must contain 'bench')")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="broker (Redis db 10-12)")
    parser.add_argument("--cache-url", default="redis://127.0.0.1:6379/11", help="Django cache (Redis db 10-12)")
    parser.add_argument("--keep-db", action="store_true", help="reuse the bench database instead of recreating it")
    parser.add_argument("--timeout", type=float, default=1800, help="give up after this many seconds")
    return parser.parse_args()


def prepare_input(data: Path, rows: int | None, tmp: Path) -> tuple[Path, int]:
    """The file to upload and its number of data rows (a prefix in `tmp` when --rows is given)."""
    if not data.is_file():
        raise SystemExit(f"{data} not found (the MovieLens files live in ../shared/datasets/ml-1m)")
    if rows is None:
        with open(data, "rb") as fh:
            return data, sum(1 for _ in fh) - 1
    target = tmp / f"{data.stem}_first{rows}{data.suffix}"
    count = 0
    with open(data, "rb") as src, open(target, "wb") as out:
        out.write(src.readline())
        for line in src:
            if count == rows:
                break
            out.write(line)
            count += 1
    return target, count


class Worker:
    """The Procfile's default-queue worker, in a session of its own so that stop() reaches its pool."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env, self.log_path = env, log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(VENV_BIN / WORKER_COMMAND[0]), *WORKER_COMMAND[1:], "--loglevel", "WARNING"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        from recsys_site.celery import ping

        # A round trip through the broker: the worker is consuming once it answers.
        result = ping.delay()
        try:
            if result.get(timeout=timeout) != "pong":
                raise RuntimeError("the worker answered the ping with something else")
        except Exception:
            print(f"worker log ({self.log_path}):\n{self.log_tail()}", file=sys.stderr)
            raise

    def pool_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process else []

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def wait_finished(job_id: int, timeout: float) -> tuple[float, dict]:
    """Poll the job row (every 20 ms) until it is finished; returns the perf_counter time it was seen so."""
    from interactions.models import InteractionImport

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = (
            InteractionImport.objects.filter(pk=job_id)
            .values("status", "rows_total", "rows_rejected", "rows_imported", "error_message", "started_at")
            .first()
        )
        if row and row["status"] in (InteractionImport.Status.SUCCEEDED, InteractionImport.Status.FAILED):
            return time.perf_counter(), row
        time.sleep(0.02)
    raise TimeoutError(f"import {job_id} did not finish within {timeout:.0f}s")


def importer_cpu(worker: Worker | None) -> float:
    """CPU seconds used so far by the process(es) that import: the worker's pool, or this process."""
    if worker is None:
        times = os.times()
        return times.user + times.system
    return sum(cpu_seconds(pid) for pid in worker.pool_pids())


def main() -> int:
    args = parse_args()
    exit_on_sigterm()
    stores = bench_stores(
        database_url=args.database_url,
        default_database="recsys_bench",
        redis_url=args.redis_url,
        cache_url=args.cache_url,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    env = bench_env(stores, tmp / "var")
    worker: Worker | None = None
    try:
        print(f"machine: {machine_description()}")
        print(f"date: {now_utc()}; load average before set-up: {load_average()}")
        path, expected = prepare_input(args.data, args.rows, tmp)
        print(f"data: {args.data} ({expected:,} rows{', prefix' if args.rows else ''}), mapping {MAPPING}")
        print(f"database: {stores.database_name} ({'kept' if args.keep_db else 'recreated'}), mode: {args.mode}")
        if not args.keep_db:
            with timed("recreate database + migrate"):
                recreate_database(stores, env)
        flush_redis(stores)
        django_setup(env)

        from django.db import connection

        from catalog.models import Item
        from interactions.imports import interaction_import_create, interaction_import_run
        from interactions.models import Event

        tenant, _ = bench_tenant(name=f"bench ingest {time.time():.0f}")
        if args.mode == "worker":
            worker = Worker(env, tmp / "worker.log")
            with timed("start the Celery worker"):
                worker.start()
            pool = worker.pool_pids()
            idle_rss = max((proc_status_kib(pid, "VmRSS") or 0) for pid in pool) / 1024
        else:
            idle_rss = (proc_status_kib("self", "VmRSS") or 0) / 1024
        connection.close()  # the polling below opens a fresh connection; no idle transaction during the run

        wal = wal_mark(stores, checkpoint=True)
        postgres = PostgresCpu(stores)
        postgres.start()
        importer_cpu0 = importer_cpu(worker)
        load_start = load_average()
        params = {"mapping": json.dumps(MAPPING), "train": "false"}
        started = time.perf_counter()
        with open(path, "rb") as upload:
            job = interaction_import_create(tenant=tenant, uploaded=upload, params=params)
        created = time.perf_counter()
        with postgres.sampling(0.25):
            if args.mode == "inline":
                interaction_import_run(job_id=job.pk)
            finished, row = wait_finished(job.pk, args.timeout)
        finished_wall = time.time()
        load_end = load_average()
        postgres_cpu = postgres.seconds()
        postgres.close()
        wal_mib, checkpoints = wal_since(stores, wal)
        worker_cpu = importer_cpu(worker) - importer_cpu0
        if args.mode == "worker":
            peaks = {pid: (proc_status_kib(pid, "VmHWM") or 0) / 1024 for pid in worker.pool_pids()}
            peak_rss = max(peaks.values())
            where = f"busiest of the worker's {len(peaks)} pool processes"
        else:
            peak_rss = (proc_status_kib("self", "VmHWM") or 0) / 1024
            where = "this process, inline"

        job.refresh_from_db()
        in_db = Event.objects.filter(tenant=tenant).count()
        with_source = Event.objects.filter(tenant=tenant, source_import=job).count()
        items = Item.objects.filter(tenant=tenant).count()

        elapsed = finished - started
        run_s = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
        queued_s = (job.started_at - job.created_at).total_seconds() if job.started_at else None
        # finished_at is stamped just before the import transaction commits; the rest is COMMIT (WAL flush).
        commit_s = finished_wall - job.finished_at.timestamp() if job.finished_at else None
        rate = in_db / elapsed if elapsed else 0.0
        print()
        print(f"job {job.pk}: {row['status']}; rows total {row['rows_total']:,}, rejected {row['rows_rejected']:,}, ")
        print(f"  imported {row['rows_imported']:,}; notes: {job.notes}")
        if row["error_message"]:
            print(f"  error: {row['error_message']}")
        print(f"rows in PostgreSQL for the tenant: {in_db:,} (this job as their source: {with_source:,})")
        print(f"items in the tenant's catalogue (created by the import): {items:,}")
        print(f"end to end (file on disk -> rows committed): {elapsed:.2f}s = {rate:,.0f} rows/s")
        print(
            f"  create (store + hash + precheck + enqueue) {created - started:.2f}s; "
            + (f"queued {queued_s:.2f}s; " if queued_s is not None else "")
            + (f"task run (claim -> last statement) {run_s:.2f}s; " if run_s is not None else "")
            + (f"commit + seen by the poll {commit_s:.2f}s" if commit_s is not None else "")
        )
        print(
            f"CPU time: importing process {worker_cpu:.1f}s, PostgreSQL backends {postgres_cpu:.1f}s "
            f"(= {(worker_cpu + postgres_cpu) / max(in_db, 1) * 1e6:.1f} µs a row; the wall time above also waits "
            "for the CPU other jobs use)"
        )
        print(f"WAL written during the run: {wal_mib:,.0f} MiB; checkpoints started: {checkpoints}")
        print(f"peak RSS of the importing process: {peak_rss:,.0f} MiB ({where})")
        print(f"  its RSS when idle, before the job: {idle_rss:,.0f} MiB")
        print(f"load average: {load_start} at the start, {load_end} at the end")
        print(f"database size after the run: {database_size(stores)}")
        ok = row["status"] == "succeeded" and in_db == expected == row["rows_imported"] == with_source
        print(f"verification: {'OK' if ok else 'MISMATCH'} ({in_db:,} rows stored, {expected:,} in the file)")
        verdict = "meets" if rate >= TARGET_ROWS_PER_S else "misses"
        caveat = " (on a prefix: the target is for the whole file)" if args.rows else ""
        print(f"verdict: {rate:,.0f} rows/s {verdict} the target of >= {TARGET_ROWS_PER_S:,} rows/s{caveat}")
        if worker is not None and not ok:
            print(f"worker log:\n{worker.log_tail()}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if worker is not None:
            worker.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
