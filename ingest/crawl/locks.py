"""One crawl per spider and database at a time: an OS file lock that a dead holder cannot keep.

``flock`` locks belong to an open file; the kernel drops them when the holder exits, however it
exits (SIGKILL, OOM, power loss), so a crashed crawl never blocks the next one and there is no
stale-lock clean-up to get wrong. The lock files stay next to the database on purpose: deleting
a lock file while another process waits on it is the classic flock race.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click

# A lock busy: the crawl exits with EX_TEMPFAIL, so the scheduler (and systemd's
# SuccessExitStatus) can tell "another run holds it, try later" from a failed crawl.
EXIT_LOCKED = 75
# Spider names become part of a file name: no separators, no leading dot.
SPIDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


class SpiderLocked(Exception):
    """Another live process (crawl or scheduler child) holds this spider's lock on this DB."""

    def __init__(self, spider: str, path: Path, holder: int | None) -> None:
        self.spider, self.path, self.holder = spider, path, holder
        who = f"pid {holder}" if holder else "another process"
        super().__init__(f"{spider}: a crawl is already running ({who} holds {path})")


class SpiderLockedError(click.ClickException):
    """The CLI form of ``SpiderLocked``: a clear message and exit status ``EXIT_LOCKED``."""

    exit_code = EXIT_LOCKED


def lock_path(db_path: str | Path, spider: str) -> Path:
    """``<db>.<spider>.lock``, from the resolved DB path so two spellings share one lock."""
    if not SPIDER_NAME.fullmatch(spider):
        raise ValueError(f"not a spider name: {spider!r}")
    db = Path(db_path).resolve()
    return db.with_name(f"{db.name}.{spider}.lock")


def _holder(path: Path) -> int | None:
    """The pid the holder wrote into the lock file, if readable (for messages only)."""
    try:
        text = path.read_text("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


@contextmanager
def spider_lock(db_path: str | Path, spider: str) -> Iterator[Path]:
    """Hold the lock of ``spider`` on ``db_path`` for the ``with`` block, or raise SpiderLocked.

    Never waits: a scheduled round that finds a crawl running is skipped, not queued.
    """
    path = lock_path(db_path, spider)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SpiderLocked(spider, path, _holder(path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        yield path
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


@contextmanager
def spider_locks(db_path: str | Path, spiders: Iterable[str]) -> Iterator[list[Path]]:
    """All the spiders' locks, taken in sorted order (two multi-spider crawls cannot deadlock)."""
    with ExitStack() as stack:
        yield [stack.enter_context(spider_lock(db_path, s)) for s in sorted(set(spiders))]


def held_by(db_path: str | Path, spider: str) -> SpiderLocked | None:
    """Who holds the lock right now (None: free). A snapshot, for skipping early with a message;
    the crawl that then runs takes the lock itself, so a race ends in a refusal, not an overlap.

    Probes with a shared lock and writes nothing, so the holder's pid in the file stays put.
    """
    path = lock_path(db_path, spider)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return SpiderLocked(spider, path, _holder(path))
    finally:
        os.close(fd)
    return None


def hold_spider_locks(db_path: str | Path, spiders: Iterable[str]) -> None:
    """For a click command: hold the locks until the command ends; a busy one is a clear error.

    Example: hold_spider_locks(db, spiders)  # first line of ``ingest crawl``
    """
    try:
        click.get_current_context().with_resource(spider_locks(db_path, spiders))
    except SpiderLocked as busy:
        raise SpiderLockedError(
            f"{busy}; not starting a second one (it ends by itself, or stop it first)"
        ) from busy
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
