"""Resumable crawls: one Scrapy JOBDIR per database and spider, next to the database unless
told otherwise.

Scrapy keeps the scheduler queue, the dupefilter's fingerprints and ``spider.state`` in JOBDIR
and picks them up when a crawl starts with the same JOBDIR. ``ingest crawl`` always gives a
crawl one, so a crawl stopped by SIGINT or SIGTERM can be continued with ``--resume``; a crawl
without ``--resume`` starts from an empty one, and a finished crawl removes its own.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

logger = logging.getLogger(__name__)

JOBS_DIRNAME = "jobs"
# Files Scrapy writes in a JOBDIR; a directory with none of them is not ours to delete.
JOB_FILES = ("requests.seen", "requests.queue", "spider.state")


class NotAJobDir(Exception):
    """A path that should hold crawl state holds something else."""


def job_dirs(db_path: Path, spiders: list[str], base: Path | None = None) -> dict[str, Path]:
    """Each spider's JOBDIR for crawls into ``db_path``: ``jobs/<db file name>/<spider>`` beside
    the database, or ``<base>/<db file name>-<hash of its full path>/<spider>``.

    Per database as well as per spider, as the crawl lock is: with ``jobs/<spider>`` a crawl of
    ``b.db`` discarded the live state of a crawl of ``a.db`` in the same folder. A ``base`` may
    be shared by databases of any folder, hence the hash there.
    """
    resolved = db_path.resolve()
    if base is None:
        root = resolved.parent / JOBS_DIRNAME / resolved.name
    else:
        digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
        root = base / f"{resolved.name}-{digest}"
    return {name: root / name for name in spiders}


def is_job_dir(path: Path) -> bool:
    """True when ``path`` holds state Scrapy wrote."""
    return any((path / name).exists() for name in JOB_FILES)


def was_killed(path: Path) -> bool:
    """True when the crawl in ``path`` died without closing (SIGKILL, OOM, power cut).

    Scrapy writes ``spider.state`` (and its queue's index) only when a spider closes, after the
    dupefilter's ``requests.seen``, which grows as requests are scheduled. A ``requests.seen``
    without a later ``spider.state`` lists pages whose items may never have been stored:
    resuming would skip them.
    """
    seen, state = path / "requests.seen", path / "spider.state"
    if not seen.exists():
        return False
    return not state.exists() or seen.stat().st_mtime_ns > state.stat().st_mtime_ns


def discard(path: Path) -> bool:
    """Remove the crawl state in ``path``; True if there was some. Refuses foreign directories."""
    if not path.exists():
        return False
    if not path.is_dir() or (any(path.iterdir()) and not is_job_dir(path)):
        raise NotAJobDir(f"{path} exists and is not a crawl job directory; not removing it")
    shutil.rmtree(path)
    return True
