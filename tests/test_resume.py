"""Resume: a crawl stopped by SIGINT or SIGTERM, then run again with --resume, ends with the same
articles as a crawl that was never stopped, each article page downloaded once, none lost."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ingest.crawl.jobs import job_dirs
from ingest.demo import MirrorServer, mirror_root, serve
from ingest.store.db import open_db

from .crawl_helpers import CRAWL_TIMEOUT, clean_env, crawl, crawl_command, last_run

STOP_AFTER = 6  # stored articles before the signal
# Slow enough to be stopped half-way: one request at a time, 0.2 s apart; small batches, so
# stored articles show up while the crawl runs. --full: only JOBDIR may prevent a second
# download of a page (the incremental check would hide a broken resume).
SLOW = ["--full", "-s", "CONCURRENT_REQUESTS=1", "-s", "DOWNLOAD_DELAY=0.2"]
SLOW += ["-s", "INGEST_BATCH_SIZE=2"]


@pytest.fixture(scope="module")
def server() -> Iterator[MirrorServer]:
    """One mirror for the module: a resumed crawl's queue may hold URLs rewritten for it."""
    with serve(mirror_root("rbc")) as running:
        yield running


@pytest.fixture(scope="module")
def reference(server: MirrorServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A crawl that is never interrupted: its articles and stats."""
    db_path = tmp_path_factory.mktemp("reference") / "news.db"
    stats = crawl(db_path, server.url, "--full")
    return {"bodies": bodies(db_path), "stats": stats}


def bodies(db_path: Path) -> dict[str, str]:
    db = open_db(db_path, read_only=True)
    return {r["url"]: r["body"] for r in db.table("articles").rows}


def stored_count(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    db = open_db(db_path, read_only=True)
    try:
        return db.table("articles").count if db.table("articles").exists() else 0
    finally:
        db.close()


def interrupt(command: list[str], db_path: Path, signum: int) -> subprocess.CompletedProcess[str]:
    """Start a crawl, send ``signum`` once ``STOP_AFTER`` articles are stored, wait for it."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        deadline = time.monotonic() + CRAWL_TIMEOUT
        while stored_count(db_path) < STOP_AFTER:
            assert process.poll() is None, "the crawl ended before it could be interrupted"
            assert time.monotonic() < deadline, "no articles stored in time"
            time.sleep(0.05)
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=CRAWL_TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_crawl_resumes_to_the_same_articles(
    signum: int, server: MirrorServer, reference: dict[str, Any], tmp_path: Path
) -> None:
    db_path = tmp_path / "news.db"
    stopped = interrupt(crawl_command(db_path, server.url, *SLOW), db_path, signum)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    assert "--resume" in stopped.stderr
    first = last_run(db_path)
    assert first["finish_reason"] == "shutdown"
    # Everything downloaded before the stop was stored (the buffer was flushed)...
    partial = bodies(db_path)
    assert STOP_AFTER <= len(partial) < len(reference["bodies"])
    assert first["stats"]["ingest/stored"] == len(partial)
    assert (job_dirs(db_path, ["rbc"])["rbc"] / "requests.seen").is_file()

    stats = crawl(db_path, server.url, "--full", "--resume")
    second = last_run(db_path)
    assert second["finish_reason"] == "finished"
    assert bodies(db_path) == reference["bodies"]
    # ...and no page was downloaded twice: the two halves add up to one whole crawl.
    downloaded = "ingest/incremental/downloaded"
    assert first["stats"][downloaded] + stats[downloaded] == reference["stats"][downloaded]
    assert stats.get("ingest/dropped/duplicate", 0) == 0
    assert not job_dirs(db_path, ["rbc"])["rbc"].exists()  # finished: nothing left to resume


def test_resume_keeps_the_article_limit(server: MirrorServer, tmp_path: Path) -> None:
    """``limit`` counts across the stop: the requested URLs live in the spider's state."""
    db_path = tmp_path / "news.db"
    limit = 30  # of 43 article pages; room for the pages downloaded while items are processed
    command = crawl_command(db_path, server.url, *SLOW, "-a", f"limit={limit}")
    stopped = interrupt(command, db_path, signal.SIGINT)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    first = last_run(db_path)["stats"]
    stats = crawl(db_path, server.url, "--full", "--resume", "-a", f"limit={limit}")
    downloaded = "ingest/incremental/downloaded"
    assert 0 < first[downloaded] < limit, first
    assert first[downloaded] + stats.get(downloaded, 0) == limit


def test_a_crawl_without_resume_starts_afresh(server: MirrorServer, tmp_path: Path) -> None:
    db_path = tmp_path / "news.db"
    stopped = interrupt(crawl_command(db_path, server.url, *SLOW), db_path, signal.SIGINT)
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    result = subprocess.run(
        crawl_command(db_path, server.url, "--full"),
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
        env=clean_env(),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "discarded an unfinished crawl's state" in result.stderr
    stats = last_run(db_path)["stats"]
    # From the start: every stored article downloaded again (--full), none left out.
    assert stats["ingest/incremental/full"] == len(bodies(db_path)) - stats["ingest/stored/new"]
    assert stats["ingest/stored/new"] > 0
