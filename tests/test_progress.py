"""The progress extension: the line, a live line on a terminal, log lines anywhere else, and a
real crawl with its stderr on a pseudo-terminal."""

from __future__ import annotations

import io
import json
import logging
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from ingest.crawl.progress import (
    CLEAR_TO_EOL,
    TTY_REFRESH,
    ProgressExtension,
    elapsed_clock,
    progress_line,
)
from ingest.demo import mirror_root, serve
from ingest.store.db import open_db

TIMEOUT = 120  # seconds: bound on the crawl under a pseudo-terminal


class FakeStream(io.StringIO):
    """stderr stand-in that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_line() -> None:
    stats = {
        "response_received_count": 42,
        "item_scraped_count": 30,
        "ingest/dropped/too_short": 2,
        "ingest/dropped/empty_page": 1,
        "ingest/stored": 0,  # lags by a batch: not what "items" counts
    }
    assert progress_line("rbc", stats, 144.9) == (
        "rbc: 42 pages, 30 items, 3 dropped, 12.4 items/min, 0:02:24 elapsed"
    )
    assert progress_line("rbc", {}, 0.0) == (
        "rbc: 0 pages, 0 items, 0 dropped, 0.0 items/min, 0:00:00 elapsed"
    )


def test_elapsed_clock() -> None:
    assert elapsed_clock(3725.7) == "1:02:05"
    assert elapsed_clock(59) == "0:00:59"


@pytest.fixture
def root_handler() -> Iterator[tuple[FakeStream, logging.Handler]]:
    """A root log handler on a fake terminal, as Scrapy installs one on stderr."""
    stream = FakeStream(tty=True)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream, handler
    finally:
        root.removeHandler(handler)


def test_terminal_gets_a_live_line_rewritten_in_place(
    root_handler: tuple[FakeStream, logging.Handler], stats: MemoryStatsCollector
) -> None:
    stream, handler = root_handler
    clock = FakeClock()
    ext = ProgressExtension(stats, interval=30, stream=stream, clock=clock)
    assert ext.period == TTY_REFRESH
    ext.open("rbc")
    stats.set_value("response_received_count", 5)
    clock.now += 60
    ext.tick()
    first = stream.getvalue()
    assert (
        first == f"\rrbc: 5 pages, 0 items, 0 dropped, 0.0 items/min, 0:01:00 elapsed{CLEAR_TO_EOL}"
    )
    stats.set_value("item_scraped_count", 3)
    clock.now += 60
    ext.tick()
    assert stream.getvalue().count("\r") == 2
    assert "\n" not in stream.getvalue()
    # a log record meanwhile: the live line is cleared first, so the record starts a clean line
    logging.getLogger("scrapy.core.engine").warning("something to say")
    assert stream.getvalue().endswith(f"\r{CLEAR_TO_EOL}WARNING something to say\n")
    clock.now += 1
    ext.close()
    assert stream.getvalue().endswith(
        f"\rrbc: 5 pages, 3 items, 0 dropped, 1.5 items/min, 0:02:01 elapsed{CLEAR_TO_EOL}\n"
    )
    # closed: the filter is gone, later records are left alone
    assert not handler.filters
    before = stream.getvalue()
    logging.getLogger("x").warning("after")
    assert stream.getvalue() == before + "WARNING after\n"


def test_elsewhere_it_logs_at_the_interval_and_writes_nothing_raw(
    stats: MemoryStatsCollector, caplog: pytest.LogCaptureFixture
) -> None:
    stream = FakeStream(tty=False)
    clock = FakeClock()
    ext = ProgressExtension(stats, interval=30, stream=stream, clock=clock)
    assert ext.period == 30
    ext.open("rbc")
    stats.set_value("item_scraped_count", 10)
    stats.inc_value("ingest/dropped/no_title")
    clock.now += 30
    with caplog.at_level(logging.INFO, logger="ingest.crawl.progress"):
        ext.tick()
        ext.close()
    assert stream.getvalue() == ""
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("INFO", "rbc: 0 pages, 10 items, 1 dropped, 20.0 items/min, 0:00:30 elapsed"),
        ("INFO", "rbc: 0 pages, 10 items, 1 dropped, 20.0 items/min, 0:00:30 elapsed (done)"),
    ]


def test_settings_turn_it_off_or_set_the_interval() -> None:
    with pytest.raises(NotConfigured):
        ProgressExtension.from_crawler(get_crawler(settings_dict={"INGEST_PROGRESS": False}))
    with pytest.raises(NotConfigured):
        ProgressExtension.from_crawler(get_crawler(settings_dict={"INGEST_PROGRESS_INTERVAL": 0}))
    ext = ProgressExtension.from_crawler(get_crawler(settings_dict={"INGEST_PROGRESS_INTERVAL": 5}))
    assert ext.period == (TTY_REFRESH if ext.tty else 5)


def read_all(fd: int, proc: subprocess.Popen[bytes]) -> bytes:
    """Everything written to the pty until the child exits (bounded by TIMEOUT)."""
    out = b""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out


def test_a_real_crawl_on_a_terminal_shows_the_live_line_and_ends_it(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    with serve(mirror_root("rbc")) as server:
        proc = subprocess.Popen(
            [
                *(
                    sys.executable,
                    "-m",
                    "ingest",
                    "crawl",
                    "rbc",
                    "--db",
                    str(tmp_path / "news.db"),
                ),
                *("-s", f"INGEST_MIRROR={server.url}", "-s", "AUTOTHROTTLE_ENABLED=False"),
                # slow enough for a few redraws
                *("-s", "DOWNLOAD_DELAY=0.05", "-s", "LOG_LEVEL=WARNING"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=slave,
        )
        os.close(slave)
        try:
            output = read_all(master, proc).decode()
            assert proc.wait(timeout=TIMEOUT) == 0
        finally:
            proc.kill()
            proc.wait(timeout=TIMEOUT)
            os.close(master)
    frames = [f for f in output.split("\r") if "rbc: " in f]
    assert len(frames) >= 2, output  # redrawn in place, not appended
    # each frame starts a line of its own: no log text glued in front of it
    assert all(f.startswith("rbc: ") for f in frames), output
    run = next(open_db(tmp_path / "news.db").table("runs").rows)
    stats = json.loads(run["stats"])
    final = f"rbc: {stats['response_received_count']} pages, {stats['item_scraped_count']} items, "
    assert frames[-1].startswith(final)  # the closing frame has the final figures
    # the last frame is kept, and the cursor left on a fresh line (the pty turns \n into \r\n)
    assert output.endswith(f"{frames[-1]}\r\n")
