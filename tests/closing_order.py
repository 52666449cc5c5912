"""``ingest`` with the crawl's closing made adverse for the writer's order, printing the
writer's jobs as they finish (``JOB seen``, ``JOB run-end``) on stderr. Used by
tests/test_storage_faults.py:

    python -m tests.closing_order [--no-wait] crawl rbc --db DB ...

- the incremental middleware gathers every seen row until the crawl closes (as if its writer
  job were never done), so they are all written by its ``spider_closed``;
- the incremental middleware's ``spider_closed`` starts 1 s late, so storage's handler runs
  first whatever order Scrapy calls them in;
- ``--no-wait``: storage does not wait for the other users of the writer (``DbWriter.alone``
  does nothing), to show what the test catches.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from scrapy import Spider
from sqlite_utils import Database

from ingest.cli import cli
from ingest.crawl.incremental import IncrementalMiddleware
from ingest.store.dbfaults import DbWriter
from pipelines.storage import SQLitePipeline

CLOSE_DELAY = 1.0


def job_done(name: str) -> None:
    print(f"JOB {name}", file=sys.stderr, flush=True)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--no-wait"]:
        args = args[1:]

        async def no_wait(self: DbWriter) -> None:
            return None

        DbWriter.alone = no_wait  # type: ignore[method-assign]

    real_write = DbWriter.write

    def write(self: DbWriter, transaction: Callable[[Database], Any], what: str) -> Future[Any]:
        def logged(db: Database) -> Any:
            result = transaction(db)
            job_done(what)
            return result

        return real_write(self, logged, what)

    DbWriter.write = write  # type: ignore[method-assign]

    real_opened = IncrementalMiddleware.spider_opened

    def opened(self: IncrementalMiddleware, spider: Spider) -> None:
        real_opened(self, spider)
        self.writing = True  # rows wait for a job that never ends: spider_closed writes them

    IncrementalMiddleware.spider_opened = opened  # type: ignore[method-assign]

    real_record_end = SQLitePipeline.record_end

    def record_end(self: SQLitePipeline, reason: str) -> Callable[[], None]:
        job = real_record_end(self, reason)

        def logged() -> None:
            job()
            job_done("run-end")

        return logged

    SQLitePipeline.record_end = record_end  # type: ignore[method-assign]

    real_closed = IncrementalMiddleware.spider_closed

    async def late(self: IncrementalMiddleware, spider: Spider) -> None:
        await asyncio.sleep(CLOSE_DELAY)
        print("CLOSE incremental", file=sys.stderr, flush=True)
        await real_closed(self, spider)

    IncrementalMiddleware.spider_closed = late  # type: ignore[method-assign]
    cli(args, prog_name="ingest")


if __name__ == "__main__":
    main()
