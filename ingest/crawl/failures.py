"""Why a request ended without a response for its callback, as the reason its drop is counted under.

Scrapy hands a spider's errback the final failure, after retries and redirects gave up; without
an errback it only logs it. ``NewsSpider.request_failed`` counts it as
``ingest/dropped/<reason>`` with the names below, so every lost page is in the run's stats.
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionLost, TimeoutError
from twisted.python.failure import Failure

# IgnoreRequest carries no public type for its cause; these are words of the messages Scrapy 2.19
# raises it with (tests/test_faults.py fails if a release changes them).
IGNORE_REASONS = (
    ("exceeded DOWNLOAD_MAXSIZE", "too_large"),  # HttpCompressionMiddleware: a bomb
    ("Forbidden by robots.txt", "robots_forbidden"),
    ("max redirections reached", "redirect_loop"),
    ("Filtered offsite request", "offsite"),
)


def failure_reason(failure: Failure) -> str:
    """The short reason for a failed request: ``http_503``, ``timeout``, ``too_large``..."""
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"http_{exc.response.status}"
    if isinstance(exc, IgnoreRequest):
        message = str(exc)
        return next((r for words, r in IGNORE_REASONS if words in message), "ignored")
    if isinstance(exc, DownloadCancelledError):
        return "too_large"  # the only cancellation Scrapy makes itself: DOWNLOAD_MAXSIZE
    if isinstance(exc, DownloadTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, ResponseDataLossError):
        return "data_loss"
    if isinstance(exc, CannotResolveHostError):
        return "dns"
    if isinstance(
        exc,
        DownloadConnectionRefusedError
        | DownloadFailedError
        | ConnectError
        | ConnectionDone
        | ConnectionLost,
    ):
        return "connection"
    return "download_error"
