"""Log lines for dropped items that say why, without dumping the whole item."""

from __future__ import annotations

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
