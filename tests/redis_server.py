"""A real redis-server for the frontier tests, on 127.0.0.1 and a free port, in ``tmp_path``.

Missing, the test is reported as not run with the command that installs it; ``.ci/run`` sets
INGEST_REQUIRE_REDIS=1, where a missing redis-server is a failure (as tests/browser.py does
for chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

REQUIRE_ENV = "INGEST_REQUIRE_REDIS"
INSTALL = "apt-get update && apt-get install -y redis-server"


def redis_server() -> str:
    """The path of redis-server, else a skip (a failure under INGEST_REQUIRE_REDIS=1)."""
    found = shutil.which("redis-server")
    if found is not None:
        return found
    message = f"not run: redis-server is not on PATH; install it with '{INSTALL}'"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(message + f" ({REQUIRE_ENV}=1: CI must run the frontier tests)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_redis(directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(URL, process) of a fresh redis-server without persistence; stopped at the end."""
    with serving_redis(redis_server(), directory) as running:
        yield running


@contextmanager
def serving_redis(binary: str, directory: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``running_redis`` for a binary found otherwise (benchmarks/scale_bench.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        client.close()
        yield url, process
    finally:
        process.kill()
        process.wait()
