"""Recurring crawls: interval parsing, the foreground scheduler, crontab and systemd renderings.

Every scheduled crawl is a plain ``ingest crawl`` in a child process: a crash, a leak or a hung
reactor in one round cannot take the scheduler down, each round starts from fresh settings, and
the crawl takes the per-spider lock itself (``ingest.crawl.locks``), exactly as a cron-started crawl
does, so no pair of schedulers, cron jobs and manual crawls can run one spider on one DB twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from ingest.crawl.locks import EXIT_LOCKED, held_by

logger = logging.getLogger(__name__)

TRIGGER = "scheduled"
# SIGHUP too: a closed terminal should stop the scheduler the same graceful way.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL = 0.2  # seconds: how quickly a stop request is noticed while sleeping or waiting
_DURATION = re.compile(r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?")
DURATION_HELP = "a number with a unit, like 90s, 15m, 1h or 1h30m"


class DurationError(ValueError):
    """A duration that is not ``<n>h<n>m<n>s`` (each part optional, at least one, total > 0)."""


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``15m``, ``1h``, ``1h30m``; a bare number is refused (which unit?)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if not text.strip() or match is None or not any(match.groupdict().values()):
        raise DurationError(f"invalid duration {text!r}: use {DURATION_HELP}")
    parts = {k: int(v or 0) for k, v in match.groupdict().items()}
    seconds = parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    if seconds <= 0:
        raise DurationError(f"invalid duration {text!r}: must be longer than 0s")
    return seconds


def format_duration(seconds: int) -> str:
    """The inverse of ``parse_duration``, shortest form: 5400 → ``1h30m``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    out = "".join(f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n)
    return out or "0s"


def systemd_timespan(seconds: int) -> str:
    """A systemd time span (``man systemd.time``): 5400 → ``1h 30min``."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = ((hours, "h"), (minutes, "min"), (secs, "s"))
    return " ".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def cron_schedule(seconds: int) -> str | None:
    """The five crontab fields that fire every ``seconds``, or None when cron cannot.

    Cron steps count minutes within an hour and hours within a day, so only intervals that
    divide an hour or a day (or are a whole week) come out evenly spaced; ``*/45`` would fire
    at :00 and :45, 15 minutes apart. Those get None rather than a schedule that lies.
    """
    if seconds % 60:
        return None
    minutes = seconds // 60
    if minutes < 60 and 60 % minutes == 0:
        return "* * * * *" if minutes == 1 else f"*/{minutes} * * * *"
    if minutes % 60:
        return None
    hours = minutes // 60
    if hours < 24 and 24 % hours == 0:
        return "0 * * * *" if hours == 1 else f"0 */{hours} * * *"
    if hours == 24:
        return "0 0 * * *"
    if hours == 24 * 7:
        return "0 0 * * 0"
    return None


def crawl_args(
    spiders: Sequence[str],
    db_path: Path | None,
    spider_args: dict[str, str],
    settings: dict[str, str],
) -> list[str]:
    """``crawl`` and its arguments for a scheduled run; the trigger always ends up ``scheduled``."""
    args = ["crawl", *spiders]
    if db_path is not None:
        args += ["--db", str(db_path)]
    for name, value in spider_args.items():
        args += ["-a", f"{name}={value}"]
    for name, value in {**settings, "INGEST_TRIGGER": TRIGGER}.items():
        args += ["-s", f"{name}={value}"]
    return args


@dataclass
class Scheduler:
    """Runs ``crawl_args`` in a child every ``interval`` seconds, measured from each round's start.

    A stop request (SIGTERM, SIGINT, SIGHUP) ends the loop: a running crawl gets one SIGINT,
    Scrapy's own graceful stop (in-flight requests finish, the storage pipeline flushes and
    records the run), and is waited for up to ``stop_timeout`` seconds before it is killed; a
    second request sends a second SIGINT, which Scrapy takes as "stop now". No round starts
    after a stop request.
    """

    spiders: list[str]
    db_path: Path
    interval: int
    spider_args: dict[str, str] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=dict)
    rounds: int | None = None
    stop_timeout: float = 120.0
    # scrapyd nodes (ingest/crawl/scrapyd.py): each round schedules every spider (or spider:site) on
    # its node instead of crawling here; one pending or running there is skipped.
    scrapyd: list[str] = field(default_factory=list)
    stop_requests: int = field(default=0, init=False)
    failed_rounds: int = field(default=0, init=False)

    def command(self, spiders: Sequence[str]) -> list[str]:
        args = crawl_args(spiders, self.db_path, self.spider_args, self.settings)
        return [sys.executable, "-m", "ingest", *args]

    def request_stop(self, signum: int, frame: FrameType | None = None) -> None:
        """Signal handler: only counts; the loop acts on it within ``POLL`` seconds."""
        self.stop_requests += 1

    def run(self) -> int:
        """Rounds until ``rounds`` are done or a stop request; the exit status for the command.

        0 after a stop request (stopping is what was asked for); otherwise 1 if a round's crawl
        failed, so ``ingest schedule --rounds 1`` reports like ``ingest crawl``.
        """
        previous = {sig: signal.signal(sig, self.request_stop) for sig in STOP_SIGNALS}
        try:
            number = 0
            while not self.stop_requests and (self.rounds is None or number < self.rounds):
                number += 1
                started = time.monotonic()
                self.run_round(number)
                if self.rounds is not None and number >= self.rounds:
                    break
                next_start = started + self.interval
                left = round(next_start - time.monotonic())
                if not self.stop_requests and left > 0:
                    logger.info("next round in %s", format_duration(left))
                elif not self.stop_requests:
                    logger.info("round %d outlasted the interval: next round now", number)
                self._sleep_until(next_start)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if self.stop_requests:
            logger.info("scheduler stopped (stop requested), %d round(s) run", number)
            return 0
        logger.info("scheduler done, %d round(s) run", number)
        return 1 if self.failed_rounds else 0

    def run_round(self, number: int) -> int | None:
        """One round: skip the spiders whose lock is held, crawl the others in one child."""
        if self.scrapyd:
            from ingest.crawl.scrapyd import Unit, dispatch

            # The node's runs are trigger scrapyd; INGEST_DB names a path on the node.
            settings = {**self.settings, "INGEST_DB": str(self.db_path)}
            units = [Unit.parse(s) for s in self.spiders]
            done = dispatch(units, self.scrapyd, args=self.spider_args, settings=settings)
            jobs = sum(job is not None for *_, job in done)
            logger.info("round %d: %d job(s) scheduled on scrapyd", number, jobs)
            return 0
        free = []
        for spider in self.spiders:
            busy = held_by(self.db_path, spider)
            if busy is None:
                free.append(spider)
            else:
                logger.info("round %d: %s skipped, %s", number, spider, busy)
        if not free or self.stop_requests:
            return None
        started = time.monotonic()
        # Its own process group: a terminal's Ctrl+C reaches only the scheduler, which forwards
        # exactly one SIGINT; two would make Scrapy abandon the in-flight batch.
        child = subprocess.Popen(self.command(free), process_group=0)  # noqa: S603
        logger.info("round %d: crawling %s (pid %d)", number, ", ".join(free), child.pid)
        status = self._wait(child)
        took = format_duration(max(1, round(time.monotonic() - started)))
        if status == 0:
            logger.info("round %d: %s finished in %s", number, ", ".join(free), took)
        elif status == EXIT_LOCKED:
            logger.info("round %d: skipped, another crawl took the lock first", number)
        elif self.stop_requests:
            logger.info("round %d: crawl stopped on request after %s", number, took)
        else:
            self.failed_rounds += 1
            logger.warning("round %d: crawl exited with status %d after %s", number, status, took)
        return status

    def _wait(self, child: subprocess.Popen[bytes]) -> int:
        """Wait for the crawl, forwarding stop requests as SIGINT; bounded once stopping."""
        forwarded = 0
        deadline: float | None = None
        while True:
            try:
                return child.wait(timeout=POLL)
            except subprocess.TimeoutExpired:
                pass
            if self.stop_requests > forwarded:
                forwarded = self.stop_requests
                logger.info("stopping: asking the crawl (pid %d) to finish", child.pid)
                child.send_signal(signal.SIGINT)
                deadline = deadline or time.monotonic() + self.stop_timeout
            if deadline is not None and time.monotonic() > deadline:
                logger.warning(
                    "crawl (pid %d) still running %ss after SIGINT: killing it",
                    child.pid,
                    self.stop_timeout,
                )
                # The whole group: the crawl's worker processes must not outlive it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                return child.wait()

    def _sleep_until(self, moment: float) -> None:
        while not self.stop_requests and (left := moment - time.monotonic()) > 0:
            time.sleep(min(left, POLL))


def ingest_executable() -> list[str]:
    """The ``ingest`` of this environment as an absolute command (cron's PATH is minimal)."""
    beside = Path(sys.executable).parent / "ingest"
    if beside.is_file():
        return [str(beside.absolute())]
    found = shutil.which("ingest")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "ingest"]


def crontab_line(seconds: int, workdir: Path, db: Path, command: Sequence[str]) -> str | None:
    """One crontab line (None when cron cannot keep the interval, see ``cron_schedule``)."""
    when = cron_schedule(seconds)
    if when is None:
        return None
    log = db.with_name(db.name + ".cron.log")
    shell = (
        f"cd {shlex.quote(str(workdir))} && INGEST_DB={shlex.quote(str(db))} "
        f"{shlex.join(command)} >> {shlex.quote(str(log))} 2>&1"
    )
    escaped = shell.replace("%", "\\%")  # cron turns a bare % into a newline
    return f"{when} {escaped}"


def _systemd_word(word: str) -> str:
    """One ExecStart= word: specifiers (%) and variables ($) escaped, quoted when needed."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$")
    return f'"{escaped}"' if re.search(r"[\s\"'\\;]", word) else escaped


def _systemd_env(name: str, value: object) -> str:
    """One Environment= assignment: specifiers escaped, quoted when it has spaces."""
    text = f"{name}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{text}"' if re.search(r"\s", text) else text


def systemd_units(
    seconds: int, workdir: Path, db: Path, command: Sequence[str], name: str, spiders: str
) -> tuple[str, str]:
    """A oneshot service that runs the crawl and a timer that starts it every ``seconds``."""
    described = f"{spiders} into {db}".replace("%", "%%")
    service = f"""\
[Unit]
Description=news-ingest: crawl {described}

[Service]
Type=oneshot
WorkingDirectory={str(workdir).replace("%", "%%")}
Environment={_systemd_env("INGEST_DB", db)}
ExecStart={" ".join(_systemd_word(w) for w in command)}
# SIGINT is Scrapy's graceful stop: in-flight requests finish and the last batch is stored.
KillSignal=SIGINT
TimeoutStopSec=120
# {EXIT_LOCKED}: another crawl of the same spider and DB held the lock; not a failure.
SuccessExitStatus={EXIT_LOCKED}
"""
    timer = f"""\
[Unit]
Description=news-ingest: crawl {spiders} every {format_duration(seconds)}

[Timer]
OnActiveSec=1min
OnUnitActiveSec={systemd_timespan(seconds)}
Unit={name}.service

[Install]
WantedBy=timers.target
"""
    return service, timer
