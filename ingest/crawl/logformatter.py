"""Log lines for dropped and failed items that say why, without dumping the whole item."""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Spider
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


class IngestLogFormatter(LogFormatter):
    """Scrapy logs a dropped item with its repr: for a page or an article that is the whole
    HTML. The reason and the URL are what a reader of the log needs."""

    def dropped(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        result = super().dropped(item, exception, response, spider)
        url = getattr(item, "url", None)
        result["msg"] = "Dropped: %(exception)s" + (" (%(url)s)" if url else "")
        result["args"] = {"exception": exception, "url": url}
        return result

    def item_error(
        self,
        item: Any,
        exception: BaseException,
        response: Response | Failure | None,
        spider: Spider,
    ) -> LogFormatterResult:
        """Scrapy's "Error processing %(item)s" writes a whole page (an item holds its HTML
        until extraction, then its body) into the log at ERROR; the URL and the exception say
        what failed. The traceback still follows (Scrapy logs it with ``exc_info``)."""
        url = getattr(item, "url", None) or getattr(response, "url", None)
        return {
            "level": logging.ERROR,
            "msg": "Error processing %(url)s: %(exception)s",
            "args": {"url": url or type(item).__name__, "exception": _short(exception)},
        }


# An exception's message may quote its input (a page, a JSON-LD block): one line is enough.
MAX_EXCEPTION_CHARS = 300


def _short(exception: BaseException) -> str:
    """``Type: message``, cut to ``MAX_EXCEPTION_CHARS`` characters."""
    text = f"{type(exception).__name__}: {exception}"
    return text if len(text) <= MAX_EXCEPTION_CHARS else text[: MAX_EXCEPTION_CHARS - 1] + "…"
