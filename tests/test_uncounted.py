"""A crawl whose log has errors that no counted drop explains does not exit 0 (issue 10):
a scheduler that reads only the exit status must see that pages may have been lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ingest.crawl.run import UNCOUNTED_STATUS, uncounted_errors
from ingest.demo import mirror_root, serve

from .crawl_helpers import CRAWL_TIMEOUT, clean_env, crawl_command


def test_errors_beyond_the_counted_drops_are_uncounted() -> None:
    assert uncounted_errors({}) == 0
    counted = {"log_count/ERROR": 2, "ingest/dropped/spider_error": 1}
    assert uncounted_errors({**counted, "ingest/dropped/pipeline_error": 1}) == 0
    assert uncounted_errors(counted) == 1
    # Scrapy logs its "Gave up retrying" as an ERROR; the page is a counted drop.
    assert uncounted_errors({**counted, "retry/max_reached": 1}) == 0


def test_a_crawl_with_an_uncounted_error_exits_non_zero(tmp_path: Path) -> None:
    db = tmp_path / "noisy.db"
    extensions = json.dumps({"tests.noisy.ErrorOnFirstItem": 100})
    with serve(mirror_root("rbc")) as server:
        result = subprocess.run(
            crawl_command(db, server.url, "-s", f"EXTENSIONS={extensions}"),
            capture_output=True,
            text=True,
            timeout=CRAWL_TIMEOUT,
            check=False,
            env=clean_env(),
        )
    assert result.returncode == UNCOUNTED_STATUS, result.stderr[-3000:]
    assert "1 error(s) in the log beyond the counted losses" in result.stderr
    assert "39 stored" in result.stdout  # the crawl itself went on to the end
