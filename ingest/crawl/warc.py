"""WARC in and out: record what a live crawl fetched, and replay it later without the network.

``WarcWriterMiddleware`` (on when ``INGEST_WARC_OUT`` names a file) writes a request and a
response record for every response a crawl downloads, under the real URL, gzip-compressed,
one gzip member per record, so any crawl can be re-processed with better rules. It sits just
inside ``MirrorMiddleware`` (which has already put the real URL back) and outside
``HttpCompressionMiddleware``, so the body is stored as it travelled, with its
``Content-Encoding``.

``iter_records`` lists the HTTP responses in WARC files (a crawl's own, or CC-NEWS) and
``WarcReplayMiddleware`` answers a request that carries a record's location with that record,
instead of the network: pipelines see the real URL, status and headers.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any, Self
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest import __version__
from ingest.dates import parse_iso, to_utc_iso

logger = logging.getLogger(__name__)

RECORD_META = "warc_record"  # Request.meta key: the WarcRecordRef to replay
# Stored bodies are what came over the wire once de-chunked: the header would make a reader
# de-chunk them again.
NOT_RECORDED = frozenset({b"transfer-encoding"})
# A replayed body is already decoded (warcio undoes Content-Encoding), so these would lie.
NOT_REPLAYED = frozenset({"content-encoding", "transfer-encoding", "content-length"})


@dataclass(frozen=True, kw_only=True)
class WarcRecordRef:
    """Where one HTTP response record is, and what its headers say (enough to choose it)."""

    path: str
    offset: int
    url: str
    status: int
    content_type: str  # the HTTP Content-Type, lower-cased, parameters dropped
    length: int  # the record's Content-Length (HTTP headers + body)
    date: str | None  # WARC-Date as ISO 8601 UTC: when the page was really fetched


def iter_records(path: str | Path) -> Iterator[WarcRecordRef]:
    """Every ``response`` record with HTTP headers in a WARC file (.warc or .warc.gz), in order.

    Bodies are not read here, so a 1 GB CC-NEWS file is listed in bounded memory.
    Raises ``ArchiveLoadFailed`` when the file is not a WARC.
    """
    with Path(path).open("rb") as stream:
        records = ArchiveIterator(stream)
        for record in records:
            if record.rec_type != "response" or record.http_headers is None:
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            warc_date = parse_iso(record.rec_headers.get_header("WARC-Date"))
            content_type = record.http_headers.get_header("Content-Type") or ""
            try:
                status = int(record.http_headers.get_statuscode())
            except ValueError:
                status = 0
            yield WarcRecordRef(
                path=str(path),
                offset=records.get_record_offset(),
                url=url,
                status=status,
                content_type=content_type.split(";")[0].strip().lower(),
                length=int(record.rec_headers.get_header("Content-Length") or 0),
                date=to_utc_iso(warc_date) if warc_date else None,
            )


def load_response(ref: WarcRecordRef, request: Request) -> Response:
    """The recorded response as Scrapy would have received it (body decoded), for ``request``."""
    with Path(ref.path).open("rb") as stream:
        stream.seek(ref.offset)
        record = next(iter(ArchiveIterator(stream)))
        body = record.content_stream().read()
        http = record.http_headers
    headers = [(k, v) for k, v in http.headers if k.lower() not in NOT_REPLAYED]
    cls = responsetypes.from_args(headers=dict(headers), url=ref.url, body=body)
    return cls(
        url=ref.url,
        status=ref.status,
        headers=headers,
        body=body,
        request=request,
        flags=["warc"],
        protocol=http.protocol or None,
    )


class WarcReplayMiddleware:
    """Downloader middleware of the ``warc`` spider: recorded responses stand in for the network.

    A request without a record to replay is refused (``ingest/dropped/not_in_warc``), so a
    replay can never reach a live site, whatever a page links to.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_request(self, request: Request) -> Response:
        ref = request.meta.get(RECORD_META)
        if not isinstance(ref, WarcRecordRef):
            assert self.crawler.stats is not None
            self.crawler.stats.inc_value("ingest/dropped/not_in_warc")
            logger.warning("dropped (not_in_warc): %s (a replay never goes online)", request.url)
            raise IgnoreRequest(f"not in the WARC files: {request.url}")
        return load_response(ref, request)


class WarcWriterMiddleware:
    """Downloader middleware: each downloaded response, with its request, into a WARC (gzip).

    On only when ``INGEST_WARC_OUT`` is set. Records are appended, each written and flushed in
    one piece, so an interrupted crawl leaves a readable file. Responses that did not come from
    the network (HTTP cache, a WARC replay, ``data:`` URLs) are not recorded.
    """

    def __init__(self, crawler: Crawler, path: Path) -> None:
        self.crawler = crawler
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.file: IO[bytes] | None = path.open("ab")
        self.records = 0
        self.write(
            lambda writer: [
                writer.create_warcinfo_record(
                    path.name,
                    {
                        "software": f"news-ingest/{__version__} (Scrapy)",
                        "format": "WARC File Format 1.1",
                        "spider": crawler.spidercls.name,
                    },
                )
            ]
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        target = crawler.settings.get("INGEST_WARC_OUT")
        if not target:
            raise NotConfigured  # off unless configured; a message would warn on every crawl
        middleware = cls(crawler, Path(target))
        crawler.signals.connect(middleware.close, signal=signals.spider_closed)
        return middleware

    def write(self, build: Any) -> None:
        """Serialise the records ``build(writer)`` returns, then append them in one write."""
        buffer = io.BytesIO()
        writer = WARCWriter(buffer, gzip=True)
        for record in build(writer):
            writer.write_record(record)
        if self.file is not None:
            self.file.write(buffer.getvalue())
            self.file.flush()

    def process_response(self, request: Request, response: Response) -> Response:
        if self.file is None or "cached" in response.flags or "warc" in response.flags:
            return response
        split = urlsplit(response.url)
        if split.scheme not in ("http", "https"):
            return response
        self.write(lambda writer: self.records_for(writer, request, response))
        self.records += 1
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value("ingest/warc/written")
        return response

    def records_for(self, writer: WARCWriter, request: Request, response: Response) -> list[Any]:
        """The response record, then its request record pointing at it (WARC-Concurrent-To)."""
        url = response.url  # the real URL, also when the crawl was served by a mirror
        split = urlsplit(url)
        try:
            reason = HTTPStatus(response.status).phrase
        except ValueError:
            reason = "Unknown"
        protocol = (
            response.protocol if response.protocol in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
        )
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in response.headers.items()
            if name.lower() not in NOT_RECORDED
            for value in values
        ]
        warc_headers = {}
        if response.ip_address is not None:
            warc_headers["WARC-IP-Address"] = str(response.ip_address)
        response_record = writer.create_warc_record(
            url,
            "response",
            payload=io.BytesIO(response.body),
            length=len(response.body),
            http_headers=StatusAndHeaders(
                f"{response.status} {reason}", headers, protocol=protocol
            ),
            warc_headers_dict=warc_headers,
        )
        target = split.path or "/"
        if split.query:
            target += f"?{split.query}"
        request_headers = [("Host", split.netloc)] + [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, values in request.headers.items()
            for value in values
        ]
        request_record = writer.create_warc_record(
            url,
            "request",
            payload=io.BytesIO(request.body),
            length=len(request.body),
            http_headers=StatusAndHeaders(
                f"{request.method} {target} {protocol}", request_headers, is_http_request=True
            ),
            warc_headers_dict={
                "WARC-Concurrent-To": response_record.rec_headers.get_header("WARC-Record-ID")
            },
        )
        return [response_record, request_record]

    def close(self, spider: Any, reason: str) -> None:
        """Close the file when the spider closes; log how many responses were archived."""
        if self.file is not None:
            self.file.close()
            self.file = None
            logger.info("WARC: %d responses recorded in %s", self.records, self.path)
