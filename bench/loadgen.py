"""Shared plumbing for the benchmarks that run the service for real.

* `BenchStores` / `bench_env`: production-like settings (DEBUG=0, PostgreSQL, Redis) pointed at stores that
  belong to the benchmarks only: a database whose name contains "bench" (it is dropped and recreated) and
  Redis databases 10-12 (flushed). The test databases (`recsys`, `test_recsys`, Redis 14/15) are never touched.
* `recreate_database`, `django_setup`, `bench_tenant`: a fresh schema, Django in this process, a tenant with a
  key and a rate limit high enough not to throttle the load.
* `Gunicorn`: `gunicorn recsys_site.wsgi --workers N` as in the Procfile, on a free loopback port, ready once
  `/health` answers; stopped (with its workers) when the `with` block ends, whatever happened inside.
* `run_wrk` (C, closed loop over a duration; needs Debian's `wrk`, installed on demand when running as root)
  and `run_python_client` (threads, a fixed list of request bodies, every response read, so the accepted
  counts are exact): both return a `LoadResult` with requests/s, p50/p95/p99 and errors.

Import it from a script in `bench/` (the scripts put the project root on `sys.path`).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
BENCH_SECRET_KEY = "bench-only-secret-key-that-is-long-enough-for-hs256"  # noqa: S105 - not a secret: DEBUG=0 needs one
BENCH_REDIS_DBS = frozenset({10, 11, 12})


# --- Machine ----------------------------------------------------------------------------------


def cpu_probe_ms() -> float:
    """Milliseconds a fixed pure-Python loop takes on one core (best of 3): the VM's host sometimes runs it
    twice as slowly as at other times, and every figure with it, so benches print it before and after."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def machine_description() -> str:
    """CPU model, core count and RAM, e.g. 'AMD EPYC, 2 cores, 23.4 GiB RAM, Linux 6.1, Python 3.11.2'."""
    model = "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram = "? GiB"
    with contextlib.suppress(OSError), open("/proc/meminfo", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    return (
        f"{model}, {os.cpu_count()} cores, {ram} RAM, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1/5/15-minute load averages as `uptime` shows them (other jobs share this machine)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def proc_status_kib(pid: int | str, field_name: str) -> int | None:
    """A `/proc/<pid>/status` figure in KiB (VmHWM = peak RSS, VmRSS = current RSS); None if unreadable."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def child_pids(pid: int) -> list[int]:
    """Direct children of a process (from /proc; no psutil)."""
    children: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                children.extend(int(p) for p in fh.read().split())
    return children


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (from /proc/<pid>/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exit_on_sigterm() -> None:
    """Turn SIGTERM (`kill`, `timeout`) into SystemExit, so `finally` blocks stop the servers we started."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


# --- Stores and settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class BenchStores:
    """Where a benchmark keeps its data. Refuses anything that could be someone else's."""

    database_url: str
    redis_url: str
    cache_url: str

    def __post_init__(self) -> None:
        name = self.database_name
        if "bench" not in name:
            raise SystemExit(
                f"refusing to use database {name!r}: a benchmark drops and recreates its database, "
                "so its name must contain 'bench' (e.g. recsys_bench)"
            )
        for url in (self.redis_url, self.cache_url):
            if redis_db(url) not in BENCH_REDIS_DBS:
                raise SystemExit(f"refusing Redis {url}: benchmarks use Redis databases 10-12 only")

    @property
    def database_name(self) -> str:
        return urlsplit(self.database_url).path.lstrip("/")

    def maintenance_url(self) -> str:
        """The same server's `postgres` database, to drop and create the bench database from."""
        parts = urlsplit(self.database_url)
        return urlunsplit(parts._replace(path="/postgres"))


def redis_db(url: str) -> int:
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def bench_stores(
    *, database_url: str | None, default_database: str, redis_url: str, cache_url: str | None = None
) -> BenchStores:
    """The stores to use: `database_url` if given, else `$DATABASE_URL` if it names a bench database (so
    `make bench-ingest` works), else `postgres://postgres@127.0.0.1:5432/<default_database>`."""
    if database_url is None:
        from_env = os.environ.get("DATABASE_URL", "")
        if "bench" in urlsplit(from_env).path:
            database_url = from_env
        else:
            database_url = f"postgres://postgres@127.0.0.1:5432/{default_database}"
    return BenchStores(database_url=database_url, redis_url=redis_url, cache_url=cache_url or redis_url)


def bench_env(stores: BenchStores, var_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for this process and its children: production settings (DEBUG=0) on the bench stores."""
    env = dict(os.environ)
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)  # the broker must be the bench Redis, and tasks must leave the process
    env.update(
        DJANGO_SETTINGS_MODULE="recsys_site.settings",
        DATABASE_URL=stores.database_url,
        REDIS_URL=stores.redis_url,
        CACHE_URL=stores.cache_url,
        DEBUG="0",
        SECRET_KEY=BENCH_SECRET_KEY,
        VAR_DIR=str(var_dir),
        UPLOADS_DIR=str(var_dir / "uploads"),
        MODEL_STORE_DIR=str(var_dir / "models"),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def recreate_database(stores: BenchStores, env: Mapping[str, str]) -> float:
    """Drop and create the bench database, then `manage.py migrate`. Returns the seconds it took."""
    import psycopg
    from psycopg import sql

    start = time.perf_counter()
    with psycopg.connect(stores.maintenance_url(), autocommit=True) as conn:
        name = sql.Identifier(stores.database_name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=dict(env), check=True
    )
    return time.perf_counter() - start


def flush_redis(stores: BenchStores) -> None:
    """Empty the bench Redis databases (stale broker messages, rate-limit counters, cached keys)."""
    import redis

    for url in {stores.redis_url, stores.cache_url}:
        if redis_db(url) in BENCH_REDIS_DBS:
            redis.Redis.from_url(url).flushdb()


def django_setup(env: Mapping[str, str]) -> None:
    """Configure Django in this process with `env` (call once, before importing models)."""
    os.environ.update(env)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def bench_tenant(*, name: str, scopes: Sequence[str] = ("ingest",), rate_limit_per_minute: int = 1_000_000):
    """A new tenant and an API key for it; returns (tenant, plaintext key). Needs `django_setup` first.

    The default limit (6,000 requests a minute per key) would otherwise throttle a load test."""
    from accounts.services import api_key_create, tenant_create, tenant_update

    tenant = tenant_create(name=name)
    tenant = tenant_update(tenant=tenant, rate_limit_per_minute=rate_limit_per_minute)
    new_key = api_key_create(tenant=tenant, name="bench", scopes=list(scopes))
    return tenant, new_key.key


@dataclass
class WalMark:
    """Where the WAL and the checkpoint counters stood (see `wal_mark`)."""

    lsn: str
    checkpoints: int


def wal_mark(stores: BenchStores, *, checkpoint: bool = False) -> WalMark:
    """The current WAL position and checkpoint count; with `checkpoint`, force one first (needs superuser or
    pg_checkpoint; skipped otherwise) so that a run starts with no checkpoint half-done behind it."""
    import psycopg

    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        if checkpoint:
            with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
                conn.execute("CHECKPOINT")
        row = conn.execute(
            "SELECT pg_current_wal_lsn()::text, checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()
    return WalMark(lsn=row[0], checkpoints=int(row[1]))


def wal_since(stores: BenchStores, mark: WalMark) -> tuple[float, int]:
    """MiB of WAL written (by the whole server) and checkpoints started since `mark`."""
    import psycopg

    with psycopg.connect(stores.database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s::pg_lsn), checkpoints_timed + checkpoints_req "
            "FROM pg_stat_bgwriter",
            [mark.lsn],
        ).fetchone()
    return float(row[0]) / 2**20, int(row[1]) - mark.checkpoints


def database_size(stores: BenchStores) -> str:
    import psycopg

    with psycopg.connect(stores.database_url) as conn:
        row = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()
    return row[0] if row else "?"


class PostgresCpu:
    """CPU seconds used by the PostgreSQL backends connected to one database between start() and seconds().

    Backends are read from /proc while they live, so call sample() now and then during the run (a backend
    that exits before the last sample takes its latest seconds with it). Uses a connection of its own,
    whose backend is left out.
    """

    def __init__(self, stores: BenchStores):
        import psycopg

        self.database = stores.database_name
        self.conn = psycopg.connect(stores.database_url, autocommit=True)
        self.baseline: dict[int, float] = {}
        self.latest: dict[int, float] = {}

    def _pids(self) -> list[int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database]
        ).fetchall()
        return [row[0] for row in rows]

    def start(self) -> None:
        self.baseline = {pid: cpu_seconds(pid) for pid in self._pids()}
        self.latest = dict(self.baseline)

    def sample(self) -> None:
        for pid in self._pids():
            self.latest[pid] = max(self.latest.get(pid, 0.0), cpu_seconds(pid))

    @contextlib.contextmanager
    def sampling(self, interval: float = 0.5) -> Iterator[None]:
        """sample() every `interval` seconds in a thread while the block runs (for blocking load runs)."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval):
                self.sample()

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def busy(self) -> int:
        """Backends of the database running a statement now."""
        row = self.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() AND state <> 'idle'",
            [self.database],
        ).fetchone()
        return row[0] if row else 0

    def seconds(self) -> float:
        self.sample()
        return sum(cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.latest.items())

    def close(self) -> None:
        self.conn.close()


# --- gunicorn ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, *, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Wait until GET `url` answers 200 (raises RuntimeError on timeout or if `process` exits)."""
    deadline = time.monotonic() + timeout
    last: Exception | str = "no answer"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - a loopback http URL we built
                if response.status == 200:
                    return
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s ({last})")


class Gunicorn:
    """`gunicorn recsys_site.wsgi -c recsys_site/gunicorn_conf.py --workers N` on 127.0.0.1, as the Procfile
    starts it (threaded workers with keep-alive, `--timeout 60`, access log on), with the bench settings.
    Use as a context manager::

        with Gunicorn(env, workers=2) as server:
            run_wrk(server.url + "/health", ...)
    """

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        workers: int,
        port: int | None = None,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 60.0,
    ):
        self.env = dict(env)
        self.workers = workers
        self.port = port or free_port()
        self.own_log = log_path is None  # a log of our own is deleted by stop()
        self.log_path = log_path or Path(tempfile.gettempdir()) / f"bench-gunicorn-{self.port}.log"
        self.extra_args = list(extra_args)
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def command(self) -> list[str]:
        return [
            str(VENV_BIN / "gunicorn"),
            "recsys_site.wsgi",
            "--config",
            "recsys_site/gunicorn_conf.py",
            "--bind",
            f"127.0.0.1:{self.port}",
            "--workers",
            str(self.workers),
            "--timeout",
            "60",
            "--access-logfile",
            "-",
            *self.extra_args,
        ]

    def start(self) -> Gunicorn:
        log = open(self.log_path, "wb")  # noqa: SIM115 - handed to the child, closed below
        try:
            # A session of its own, so stop() can signal the master and every worker together.
            self.process = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            log.close()
        try:
            wait_http(self.url + "/health", timeout=self.ready_timeout, process=self.process)
            deadline = time.monotonic() + self.ready_timeout
            while len(self.worker_pids()) < self.workers and time.monotonic() < deadline:
                time.sleep(0.1)
        except BaseException:
            print(f"gunicorn log ({self.log_path}):\n{self.log_tail()}", file=sys.stderr)
            self.stop()
            raise
        return self

    def worker_pids(self) -> list[int]:
        return child_pids(self.process.pid) if self.process and self.process.poll() is None else []

    def cpu_seconds(self) -> float:
        """CPU used so far by the master and its live workers."""
        if self.process is None:
            return 0.0
        return sum(cpu_seconds(pid) for pid in [self.process.pid, *self.worker_pids()])

    def worker_peak_rss_mib(self) -> list[float]:
        return [(proc_status_kib(pid, "VmHWM") or 0) / 1024 for pid in self.worker_pids()]

    def stop(self, timeout: float = 20.0) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self.own_log:
            self.log_path.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Gunicorn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- Load generators --------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What a load run measured. Latencies are per request, in milliseconds."""

    client: str
    requests: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    errors: int
    error_detail: dict[str, int] = field(default_factory=dict)
    status_counts: dict[str, int] = field(default_factory=dict)
    client_cpu_s: float | None = None
    responses: list[Any] = field(default_factory=list, repr=False)
    """Parsed JSON bodies of the responses (Python client only), in completion order."""

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def summary(self) -> str:
        cpu = "" if self.client_cpu_s is None else f", client CPU {self.client_cpu_s:.1f}s"
        return (
            f"{self.requests:,} requests in {self.duration_s:.1f}s = {self.requests_per_s:,.1f} req/s; latency "
            f"p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms, p99 {self.p99_ms:.0f} ms, max {self.max_ms:.0f} ms; "
            f"errors {self.errors}{' ' + str(self.error_detail) if self.errors else ''}{cpu}"
        )


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of already sorted values."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), int(-(-q * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def ensure_wrk() -> str:
    """The path of `wrk`, installing Debian's package first when it is missing and we are root."""
    path = shutil.which("wrk")
    if path:
        return path
    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `apt-get install -y wrk` (as root), or use --client python")
    print("wrk is missing: installing Debian's package (apt-get install -y wrk)...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=False, **quiet).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True, **quiet)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], env=env, check=True, **quiet)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("could not install wrk")
    return path


# The Lua side of run_wrk. Bodies come one per line from a file; every request takes the next body of its
# thread and replaces TOKEN in it with "<thread>x<n>", so templated ids (event ids, new items) stay unique
# however long the run. `done` prints one JSON line with wrk's own statistics and the tallies of the
# response() callback (HTTP statuses, and the sum of an integer field of the JSON responses if asked).
_WRK_LUA = r"""
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local bodies, n, token, sum_field, method, path = {}, 0, nil, nil, "GET", "/"
statuses, summed = {}, 0
function init(args)
  method, path, token, sum_field = args[1], args[2], args[4], args[5]
  if token == "" then token = nil end
  if sum_field == "" then sum_field = nil end
  if args[3] ~= "" then
    for line in io.lines(args[3]) do table.insert(bodies, line) end
  end
end

function request()
  n = n + 1
  local body = nil
  if #bodies > 0 then
    body = bodies[((n - 1) % #bodies) + 1]
    if token then body = body:gsub(token, tid .. "x" .. n) end
  end
  return wrk.format(method, path, nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if sum_field and body then
    local v = body:match('"' .. sum_field .. '"%s*:%s*(%d+)')
    if v then summed = summed + tonumber(v) end
  end
end

function done(summary, latency, requests)
  local parts = {}
  local all, sum = {}, 0
  for _, t in ipairs(threads) do
    sum = sum + (t:get("summed") or 0)
    local s = t:get("statuses") or {}
    for k, v in pairs(s) do all[k] = (all[k] or 0) + v end
  end
  for k, v in pairs(all) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, "status": %d, ' ..
    '"timeout": %d, "p50": %d, "p95": %d, "p99": %d, "max": %d, "mean": %f, "summed": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean,
    sum, table.concat(parts, ", ")))
end
"""


def run_wrk(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    bodies: Sequence[str] = (),
    token: str | None = None,
    sum_field: str | None = None,
    threads: int = 1,
    connections: int = 4,
    duration_s: float = 30.0,
    timeout_s: float = 30.0,
) -> tuple[LoadResult, int]:
    """Drive `url` with wrk (closed loop: each connection sends its next request when the answer arrives).

    `bodies` (one JSON document each, no newlines) are sent in turn by each thread; `token` in a body is
    replaced per request by a unique string. Returns the result and the sum of the JSON field `sum_field` over
    the responses (0 when not asked). Errors are connect/read/write/timeout errors plus non-2xx/3xx answers.
    Requests still in flight when the duration ends are not counted by wrk (the server may still finish them).
    """
    wrk = ensure_wrk()
    parts = urlsplit(url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    base = urlunsplit(parts._replace(path="", query=""))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        script = Path(tmp) / "bench.lua"
        header_lines = "".join(
            f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n" for name, value in (headers or {}).items()
        )
        script.write_text(header_lines + _WRK_LUA, encoding="utf-8")
        body_file = ""
        if bodies:
            body_file = str(Path(tmp) / "bodies.txt")
            with open(body_file, "w", encoding="utf-8") as fh:
                for body in bodies:
                    if "\n" in body:
                        raise ValueError("wrk bodies must be single-line (compact JSON)")
                    fh.write(body + "\n")
        command = [
            wrk,
            f"--threads={threads}",
            f"--connections={connections}",
            f"--duration={max(1, round(duration_s))}s",
            f"--timeout={max(1, round(timeout_s))}s",
            f"--script={script}",
            base,
            "--",
            method,
            path,
            body_file,
            token or "",
            sum_field or "",
        ]
        start_cpu = os.times()
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        end_cpu = os.times()
    match = re.search(r"^WRKJSON (.*)$", completed.stdout, re.MULTILINE)
    if completed.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(match.group(1))
    detail = {name: data[name] for name in ("connect", "read", "write", "timeout", "status") if data[name]}
    result = LoadResult(
        client=f"wrk ({threads} threads, {connections} connections)",
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        mean_ms=data["mean"] / 1000,
        errors=sum(detail.values()),
        error_detail=detail,
        status_counts={str(k): v for k, v in data["statuses"].items()},
        client_cpu_s=(end_cpu.children_user - start_cpu.children_user)
        + (end_cpu.children_system - start_cpu.children_system),
    )
    return result, data["summed"]


def run_python_client(
    url: str,
    *,
    bodies: Sequence[bytes],
    headers: Mapping[str, str] | None = None,
    method: str = "POST",
    concurrency: int = 4,
    timeout_s: float = 60.0,
) -> LoadResult:
    """Send every body once, `concurrency` at a time (one thread and one connection per request slot).

    The bodies are built before the clock starts, so a request costs the client a socket write and a small
    JSON read (the GIL is released while waiting). Every response is read and parsed, so counts are exact.
    A connection is opened per request because gunicorn's sync workers close it after each response anyway.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    base_headers = {"Content-Type": "application/json", **(headers or {})}
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    responses: list[Any] = []
    failures: Counter[str] = Counter()
    lock = threading.Lock()
    position = iter(range(len(bodies)))

    def worker() -> None:
        while True:
            with lock:
                index = next(position, None)
            if index is None:
                return
            body = bodies[index]
            started = time.perf_counter()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
                try:
                    conn.request(method, path, body=body, headers={**base_headers, "Content-Length": str(len(body))})
                    response = conn.getresponse()
                    payload = response.read()
                finally:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    failures[type(exc).__name__] += 1
                continue
            elapsed = (time.perf_counter() - started) * 1000
            try:
                parsed = json.loads(payload) if payload else None
            except ValueError:
                parsed = None
            with lock:
                latencies.append(elapsed)
                statuses[str(response.status)] += 1
                responses.append(parsed)
                if not 200 <= response.status < 400:
                    failures[f"http_{response.status}"] += 1

    cpu_before = time.process_time()
    started = time.perf_counter()
    pool = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    duration = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    ordered = sorted(latencies)
    return LoadResult(
        client=f"python threads ({concurrency} concurrent)",
        requests=len(latencies),
        duration_s=duration,
        p50_ms=percentile(ordered, 50),
        p95_ms=percentile(ordered, 95),
        p99_ms=percentile(ordered, 99),
        max_ms=ordered[-1] if ordered else 0.0,
        mean_ms=sum(ordered) / len(ordered) if ordered else 0.0,
        errors=sum(failures.values()),
        error_detail=dict(failures),
        status_counts=dict(statuses),
        client_cpu_s=cpu,
        responses=responses,
    )


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long a set-up step took."""
    start = time.perf_counter()
    yield
    print(f"  {label}: {time.perf_counter() - start:.1f}s", flush=True)
