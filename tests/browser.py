"""Headless Chromium for the browser tests: found on PATH, or the test is reported as not run
with the command that installs it. ``.ci/run`` sets INGEST_REQUIRE_BROWSER=1, where a missing
browser is a failure: CI must run these tests, a newcomer's ``make test`` need not."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_ENV = "INGEST_REQUIRE_BROWSER"
INSTALL = "apt-get update && apt-get install -y chromium"


def chromium() -> str:
    """The path of Debian's chromium, else a skip (a failure under INGEST_REQUIRE_BROWSER=1)."""
    found = shutil.which("chromium")
    if found is not None:
        return found
    message = f"not run: chromium is not on PATH; install it with '{INSTALL}'"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(message + f" ({REQUIRE_ENV}=1: CI must run the browser tests)")
    pytest.skip(message)
