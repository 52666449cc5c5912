"""A machine without chromium runs ``make test`` all the same: the browser tests are reported
as not run, with the install command; under INGEST_REQUIRE_BROWSER=1 (``.ci/run``) they fail."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .browser import INSTALL, REQUIRE_ENV

ROOT = Path(__file__).resolve().parent.parent
BROWSER_TEST = "tests/test_serve.py::test_headless_chromium_shows_the_seed_and_body_html_as_text"


def run_without_chromium(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """pytest on the browser test with a PATH that holds no chromium."""
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "python").symlink_to(sys.executable)
    clean = {k: v for k, v in os.environ.items() if k != REQUIRE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", BROWSER_TEST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**clean, "PATH": str(bare), **env},
    )


def test_without_chromium_the_browser_test_is_reported_not_run(tmp_path: Path) -> None:
    result = run_without_chromium(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 skipped" in result.stdout
    assert "not run: chromium is not on PATH" in result.stdout
    assert INSTALL in result.stdout


def test_ci_makes_a_missing_chromium_a_failure(tmp_path: Path) -> None:
    result = run_without_chromium(tmp_path, **{REQUIRE_ENV: "1"})
    assert result.returncode == 1, result.stdout[-3000:]
    assert "1 failed" in result.stdout
    assert INSTALL in result.stdout
