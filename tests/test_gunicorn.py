"""The production web server's settings (recsys_site/gunicorn_conf.py), through a real gunicorn."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server():
    port = _free_port()
    env = {**os.environ, "WEB_HOST": "127.0.0.1", "WEB_PORT": str(port), "WEB_CONCURRENCY": "1",
           "WEB_KEEPALIVE_REQUESTS": "3"}  # fmt: skip
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(  # noqa: S603 - our own executable and arguments
        [str(gunicorn), "recsys_site.wsgi", "-c", "recsys_site/gunicorn_conf.py", "--access-logfile", "/dev/null"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("gunicorn did not start")
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)


def test_kept_alive_connections_are_recycled_so_load_spreads_over_workers(server):
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    headers = []
    for _ in range(4):
        connection.request("GET", "/health")
        response = connection.getresponse()
        assert response.status == 200
        response.read()
        headers.append(response.getheader("Connection"))
    # The third answer closes the connection; http.client then opens a new one for the fourth request.
    assert headers == ["keep-alive", "keep-alive", "close", "keep-alive"]
    connection.close()
