"""Every real news page we have, crawled end to end by the ``sitemap`` spider on 127.0.0.1.

Why: issue 9, "a crawl of real news pages loses about 4 articles in 100". Extraction scores
(extract_bench.py) see one page at a time; a crawl also loses pages between the spider and the
database (offsite, robots, redirects, canonical collisions, dedup, exceptions). This script
counts where each page went, so that a loss without a counted reason shows up as UNACCOUNTED.

The pages: the 181 of ``../shared/data/article-extraction-benchmark``, the 88 of
``../shared/data/readability-test-pages`` (a page without a URL gets a made-up one on
``no-url.readability.example``) and the 9 of ``../shared/data/news-pages``, served byte for byte
(``text/html; charset=utf-8``: the sets are UTF-8) under their real URLs through the project's
``MirrorMiddleware`` (``INGEST_MIRROR``): ``https://host/path`` is fetched from
``http://127.0.0.1:PORT/host/path`` and the spider sees the real URL. Each host has a Google
News sitemap (``news:title`` and ``news:publication_date`` where the truth has them) and all of
them are given to ``ingest crawl sitemap -a url=...`` in a child process, with every pipeline,
into a fresh SQLite database. robots.txt is obeyed (the server has none: 404). The pages keep
their own canonical / og:url; canonicals shared by several pages are reported before the crawl.

Printed: pages served, stored, dropped by reason (the run's ``ingest/dropped/*`` stats), filtered
(robots, offsite, dupefilter, listed twice), merged (written over another page's row),
UNACCOUNTED = served - stored - counted drops and filters, each page not stored with its reason
(from the crawl's log), and body F1 (bag of words, ``score_bow`` of
``../shared/eval/extract_bench.py``) per set. Exit 2 without the data, 1 when a page is
unaccounted.

Usage (from the repo root; ``make bench-crawl``):
    python benchmarks/crawl_real_pages.py [--data ../shared/data] [--timeout 900] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import html
import importlib.util
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
SCORER = REPO_ROOT.parent / "shared" / "eval" / "extract_bench.py"
SITEMAP_PATH = "/sitemap-crawl-bench.xml"
NO_URL_HOST = "no-url.readability.example"
README_ROW_RE = re.compile(r"^\| (\S+) \|.*?\| (https?://\S+) \|")
# The crawl's log lines that say what became of a URL (INFO unless said otherwise).
LOG_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("spider", re.compile(r"dropped \((?P<reason>[\w-]+)\): (?P<url>\S+)")),
    ("item", re.compile(r"Dropped: (?P<msg>.*?) \((?P<url>https?://\S+)\)\s*$")),
    ("filtered", re.compile(r"skipped \((?P<reason>\w+)\): (?P<url>\S+)")),  # DEBUG
    ("robots", re.compile(r"Forbidden by robots\.txt: <GET (?P<url>\S+)>")),  # DEBUG
    ("offsite", re.compile(r"Filtered offsite request to '[^']*': <GET (?P<url>\S+)>")),  # DEBUG
    ("dupefilter", re.compile(r"Filtered duplicate request: <GET (?P<url>\S+)>")),  # DEBUG
    ("error", re.compile(r"(?:Spider error processing|Error downloading) <GET (?P<url>\S+)")),
    ("redirect", re.compile(r"Redirecting \(\d+\) to <GET (?P<to>\S+)> from <GET (?P<url>\S+)>")),
)
# A DropItem message → its reason (the pipelines' messages start with it, but one).
ITEM_REASONS = {"no article body found": "no_body"}
# Scrapy's own counts: robots.txt refusals are a counted end of a page (NewsSpider leaves them
# to this stat); the other two also count requests the spider counts itself (offsite_redirect,
# duplicate_redirect, a meta refresh fetched again), so they are shown, not subtracted.
ROBOTS_STAT = "robotstxt/forbidden"
SCRAPY_FILTER_STATS = ("dupefilter/filtered", "offsite/filtered", "urllength/request_ignored_count")


@dataclass
class RealPage:
    """One saved page, the URL it is served under and what its article text is."""

    set: str
    id: str
    url: str
    body: bytes
    truth: str
    title: str | None = None
    published: str | None = None

    @property
    def host(self) -> str:
        return (urlsplit(self.url).hostname or "").lower()


# --- the pages ---------------------------------------------------------------------------------


def load_aeb(root: Path) -> list[RealPage]:
    """scrapinghub's article-extraction-benchmark: url and articleBody per page."""
    truth = json.loads((root / "ground-truth.json").read_text("utf-8"))
    return [
        RealPage(
            "aeb",
            pid,
            item["url"],
            gzip.decompress((root / "html" / f"{pid}.html.gz").read_bytes()),
            item.get("articleBody") or "",
        )
        for pid, item in sorted(truth.items())
    ]


def load_readability(root: Path) -> list[RealPage]:
    """Readability's test pages; a page without a URL gets one on a made-up host."""
    truth = json.loads((root / "truth.json").read_text("utf-8"))["pages"]
    pages = []
    for name, item in sorted(truth.items()):
        meta = item.get("metadata") or {}
        pages.append(
            RealPage(
                "readability",
                name,
                item.get("url") or f"https://{NO_URL_HOST}/{name}.html",
                gzip.decompress((root / "pages" / f"{name}.html.gz").read_bytes()),
                item["text"],
                meta.get("title"),
                meta.get("publishedTime"),
            )
        )
    return pages


def load_news_pages(root: Path) -> list[RealPage]:
    """The 9 fundus / trafilatura pages; URLs from the README's table. The truth is fundus'
    summary, headlines and paragraphs, or trafilatura's ``with`` snippets (a partial truth)."""
    rows = (root / "README.md").read_text("utf-8").splitlines()
    urls = {m.group(1): m.group(2) for row in rows if (m := README_ROW_RE.match(row))}
    pages = []
    for stem, url in sorted(urls.items()):
        expected = json.loads((root / f"{stem}.expected.json").read_text("utf-8"))
        if "body" in expected:
            body = expected["body"]
            parts = list(body.get("summary", []))
            for section in body["sections"]:
                parts += section["headline"] + section["paragraphs"]
        else:
            parts = list(expected.get("with", []))
        published = expected.get("publishing_date") or expected.get("date")
        pages.append(
            RealPage(
                "news-pages",
                stem,
                url,
                (root / f"{stem}.html").read_bytes(),
                "\n".join(parts),
                expected.get("title"),
                str(published).replace(" ", "T", 1) if published else None,
            )
        )
    return pages


def served_key(url: str) -> str:
    """How the mirror sees a URL: ``/host/path?query``, unquoted (so %e6 == %E6 == 'æ')."""
    split = urlsplit(url)
    query = f"?{split.query}" if split.query else ""
    return unquote(f"/{(split.hostname or '').lower()}{split.path or '/'}{query}")


def dedupe_urls(pages: list[RealPage]) -> list[str]:
    """Two saves of one URL cannot both be served there: the later gets ``?bench_copy=<id>``."""
    seen: set[str] = set()
    notes = []
    for page in pages:
        key = served_key(page.url)
        if key in seen:
            sep = "&" if urlsplit(page.url).query else "?"
            notes.append(f"{page.set}/{page.id}: same URL as another page, served as copy")
            page.url = f"{page.url}{sep}bench_copy={page.id}"
        seen.add(served_key(page.url))
    return notes


def page_canonical(page: RealPage) -> str:
    """The key the page would be stored under: its canonical, else og:url, else its URL (the
    rule of ``ingest.extract.parse_page``, repeated here to see collisions before crawling)."""
    from parsel import Selector

    from ingest.extract import canonical_url

    sel = Selector(text=page.body.decode("utf-8", "replace"))
    found = (
        sel.xpath('//link[@rel="canonical"]/@href').get()
        or sel.xpath('//meta[@property="og:url" or @name="og:url"]/@content').get()
        or page.url
    ).strip()
    return canonical_url(found if found.startswith("http") else page.url)


def sitemaps(pages: list[RealPage]) -> dict[str, bytes]:
    """One Google News sitemap per host (served key → XML)."""
    by_host: dict[str, list[RealPage]] = defaultdict(list)
    for page in pages:
        by_host[page.host].append(page)
    out = {}
    for host, hosted in by_host.items():
        entries = []
        for page in hosted:
            news = ""
            if page.title and page.published:
                news = (
                    f"<news:news><news:publication_date>{html.escape(page.published)}"
                    f"</news:publication_date><news:title>{html.escape(page.title)}"
                    "</news:title></news:news>"
                )
            entries.append(f"<url><loc>{html.escape(page.url)}</loc>{news}</url>")
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">\n'
            + "\n".join(entries)
            + "\n</urlset>\n"
        )
        out[f"/{host}{SITEMAP_PATH}"] = xml.encode()
    return out


class PageServer:
    """The pages and sitemaps by mirror path (``/host/path``), in a thread; 404 otherwise."""

    def __init__(self, files: dict[str, tuple[bytes, str]]) -> None:
        hits: Counter[str] = Counter()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                key = unquote(self.path)
                hits[key] += 1
                if key not in files:
                    self.send_error(404)
                    return
                body, content_type = files[key]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the crawl's log says what was fetched."""

        self.hits = hits
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serving(files: dict[str, tuple[bytes, str]]) -> Iterator[PageServer]:
    server = PageServer(files)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# --- the crawl ---------------------------------------------------------------------------------


def crawl(sitemap_urls: list[str], mirror: str, tmp: Path, timeout: float) -> tuple[int, str]:
    """``ingest crawl sitemap`` in a child process; its exit code and log (DEBUG, for the
    per-URL filters). Politeness off for loopback, robots.txt still obeyed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
    settings = {
        "INGEST_MIRROR": mirror,
        "DOWNLOAD_DELAY": "0",
        "AUTOTHROTTLE_ENABLED": "False",
        "CONCURRENT_REQUESTS": "16",
        "CONCURRENT_REQUESTS_PER_DOMAIN": "8",
        "INGEST_PROGRESS": "False",
        "LOG_LEVEL": "DEBUG",
    }
    cmd = [sys.executable, "-m", "ingest", "crawl", "sitemap", "--db", str(tmp / "crawl.db")]
    cmd += ["-a", "url=" + ",".join(sitemap_urls)]
    for key, value in settings.items():
        cmd += ["-s", f"{key}={value}"]
    log_path = tmp / "crawl.log"
    with log_path.open("wb") as log:
        try:
            code = subprocess.run(
                cmd, cwd=REPO_ROOT, env=env, stdout=log, stderr=log, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
    return code, log_path.read_text("utf-8", "replace")


def url_key(url: str) -> str:
    """One form for the URLs of the log, the database and the pages."""
    from ingest.extract import canonical_url

    return unquote(canonical_url(html.unescape(url.strip().rstrip(".,;"))))


def log_events(log: str) -> dict[str, list[str]]:
    """URL key → what the log says happened to it (``kind: reason``), in order."""
    events: dict[str, list[str]] = defaultdict(list)
    for line in log.splitlines():
        for kind, pattern in LOG_PATTERNS:
            match = pattern.search(line)
            if match is None:
                continue
            if kind == "item":
                msg = match["msg"]
                head = msg.split(":", 1)[0]
                reason = ITEM_REASONS.get(head, head if re.fullmatch(r"\w+", head) else msg[:60])
                events[url_key(match["url"])].append(f"dropped: {reason}")
                # validation and dedup name the canonical URL in the message; the item the
                # fetched one at the end (extraction's drops): both are keys.
                for url in re.findall(r"https?://\S+", msg)[:1]:
                    events[url_key(url)].append(f"dropped: {reason}")
            elif kind == "spider":
                events[url_key(match["url"])].append(f"dropped: {match['reason']}")
            elif kind == "filtered":
                events[url_key(match["url"])].append(f"filtered: {match['reason']}")
            elif kind == "redirect":
                events[url_key(match["url"])].append(f"redirected to {match['to']}")
            else:
                events[url_key(match["url"])].append(kind)
            break
    return events


def read_db(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's stats, the stored articles, the revisions."""
    if not path.exists():
        return {}, [], []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        run = conn.execute("select stats from runs order by started_at desc limit 1").fetchone()
        stats = json.loads(run["stats"]) if run and run["stats"] else {}
        articles = [dict(r) for r in conn.execute("select url, fetched_url, body from articles")]
        revisions = [dict(r) for r in conn.execute("select article_url from revisions")]
    finally:
        conn.close()
    return stats, articles, revisions


# --- scoring -----------------------------------------------------------------------------------

_CJK_RE = re.compile(r"([\u2e80-\u9fff\uf900-\ufaff\U00020000-\U0003ffff])")


def _bow_tokens(text: str) -> list[str]:
    out: list[str] = []
    for tok in unicodedata.normalize("NFKC", text or "").lower().split():
        tok = "".join(c for c in tok if unicodedata.category(c)[0] not in "PSC")
        out.extend(t for t in _CJK_RE.split(tok) if t)
    return out


def _score_bow(page: dict[str, str], text: str) -> dict[str, float]:
    """A copy of extract_bench.py's ``score_bow``, for when the shared file is absent."""
    truth, pred = Counter(_bow_tokens(page["truth"])), Counter(_bow_tokens(text))
    tp = sum((truth & pred).values())
    p = tp / sum(pred.values()) if pred else 0.0
    r = tp / sum(truth.values()) if truth else 0.0
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def bow_scorer() -> tuple[Callable[[dict[str, str], str], dict[str, float]], str]:
    """``score_bow`` of ../shared/eval/extract_bench.py when present (the reference), else ours."""
    if SCORER.is_file():
        spec = importlib.util.spec_from_file_location("shared_extract_bench", SCORER)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            scorer: Callable[[dict[str, str], str], dict[str, float]] = module.score_bow
            return scorer, str(SCORER)
    return _score_bow, "a copy of score_bow (shared/eval absent)"


# --- main --------------------------------------------------------------------------------------


def load_all(data: Path) -> list[RealPage] | None:
    sets = (
        (data / "article-extraction-benchmark", load_aeb),
        (data / "readability-test-pages", load_readability),
        (data / "news-pages", load_news_pages),
    )
    missing = [str(root) for root, _ in sets if not root.is_dir()]
    if missing:
        print(f"real pages missing (they are not in the repo): {', '.join(missing)}")
        return None
    return [page for root, load in sets for page in load(root)]


def outcome_of(
    page: RealPage,
    canonical: str,
    by_fetched: dict[str, dict[str, Any]],
    by_url: dict[str, dict[str, Any]],
    events: dict[str, list[str]],
) -> tuple[str, str]:
    """(kind, detail) of one page: stored, dropped, filtered, merged or unaccounted."""
    if url_key(page.url) in by_fetched:
        return "stored", ""
    said = events.get(url_key(page.url), []) + events.get(url_key(canonical), [])
    for event in said:
        if event.startswith(("dropped", "filtered")):
            kind, _, reason = event.partition(": ")
            return kind, reason
    for event in said:
        if event in ("robots", "offsite", "dupefilter", "error"):
            return ("unaccounted" if event == "error" else "filtered"), event
    row = by_url.get(url_key(canonical))
    if row is not None:
        return "merged", f"row {row['url']} holds {row['fetched_url']}"
    return "unaccounted", "; ".join(said) or "nothing in the log"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="../shared/data")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the crawl")
    parser.add_argument("--keep", type=Path, help="copy the database and log here")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO_ROOT))
    pages = load_all(args.data)
    if pages is None:
        return 2
    notes = dedupe_urls(pages)
    canonicals = {id(p): page_canonical(p) for p in pages}
    groups: dict[str, list[RealPage]] = defaultdict(list)
    for page in pages:
        groups[url_key(canonicals[id(page)])].append(page)
    collisions = {k: v for k, v in groups.items() if len(v) > 1}
    files: dict[str, tuple[bytes, str]] = {
        served_key(p.url): (p.body, "text/html; charset=utf-8") for p in pages
    }
    maps = sitemaps(pages)
    files.update({k: (v, "application/xml; charset=utf-8") for k, v in maps.items()})
    sitemap_urls = [f"https://{k.lstrip('/')}" for k in maps]
    counts = Counter(p.set for p in pages)
    print(
        f"{len(pages)} real pages ({', '.join(f'{s} {n}' for s, n in counts.items())}) on "
        f"{len(maps)} hosts, one news sitemap each, served on 127.0.0.1 under their real URLs"
    )
    for note in notes:
        print(f"  note: {note}")
    for key, group in sorted(collisions.items()):
        names = ", ".join(f"{p.set}/{p.id}" for p in group)
        print(f"  canonical collision: {len(group)} pages -> {key}: {names}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp_name, serving(files) as server:
        tmp = Path(tmp_name)
        code, log = crawl(sitemap_urls, server.url, tmp, args.timeout)
        stats, articles, revisions = read_db(tmp / "crawl.db")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("crawl.db", "crawl.log"):
                if (tmp / name).exists():
                    shutil.copy(tmp / name, args.keep / name)
        hits = sum(n for k, n in server.hits.items() if k in files and k not in maps)
    elapsed = time.perf_counter() - started
    if code != 0:
        print(f"crawl exit code {code} (-1: timed out after {args.timeout:.0f} s); log tail:")
        print("\n".join(log.splitlines()[-15:]))
    return report(pages, canonicals, stats, articles, revisions, log, hits, elapsed, code)


def report(
    pages: list[RealPage],
    canonicals: dict[int, str],
    stats: dict[str, Any],
    articles: list[dict[str, Any]],
    revisions: list[dict[str, Any]],
    log: str,
    hits: int,
    elapsed: float,
    code: int,
) -> int:
    """Print the figures and every page not stored; 1 when a page is unaccounted."""
    by_fetched = {url_key(a["fetched_url"] or a["url"]): a for a in articles}
    by_url = {url_key(a["url"]): a for a in articles}
    events = log_events(log)
    outcomes = {id(p): outcome_of(p, canonicals[id(p)], by_fetched, by_url, events) for p in pages}
    served = len(pages)
    stored = stats.get("ingest/stored/new", 0)
    drops = {k.removeprefix("ingest/dropped/"): v for k, v in stats.items() if "/dropped/" in k}
    filtered = {
        k.removeprefix("ingest/filtered/"): v for k, v in stats.items() if "/filtered/" in k
    }
    if stats.get(ROBOTS_STAT):
        filtered[ROBOTS_STAT] = stats[ROBOTS_STAT]
    scrapy_filters = {k: stats[k] for k in SCRAPY_FILTER_STATS if stats.get(k)}
    # Sitemap-level drops (no_entries...) are not pages; they are counted but not subtracted.
    page_drops = sum(v for k, v in drops.items() if not k.startswith(("xml_", "no_entries")))
    written_over = sum(stats.get(f"ingest/{k}", 0) for k in ("stored/revised", "stored/updated"))
    merged = stats.get("ingest/dedup/canonical_merged", 0)  # one story under one canonical
    unaccounted = served - stored - page_drops - sum(filtered.values()) - merged
    same_page = {k: drops[k] for k in ("duplicate", "duplicate_redirect") if k in drops}
    print(f"\ncrawl: exit {code}, {elapsed:.0f} s, {hits} page requests answered")
    print(f"pages served          {served}")
    print(f"stored (new rows)     {stored}  ({100 * stored / max(served, 1):.1f}%)")
    print(f"dropped, counted      {page_drops}  {dict(sorted(drops.items()))}")
    print(f"  of which one page twice (same body, redirect to a page fetched): {same_page}")
    print(f"filtered, counted     {sum(filtered.values())}  {dict(sorted(filtered.items()))}")
    print(f"Scrapy's filters      {scrapy_filters}  (shown, not subtracted)")
    print(f"canonical merged      {merged}  (same title and canonical: one story, counted)")
    print(
        f"canonical collisions  {stats.get('ingest/dedup/canonical_collision', 0)}  (other "
        "articles naming a taken canonical, stored under their own URL)"
    )
    print(f"written over a row    {written_over}  (stored/revised + stored/updated)")
    print(f"meta refresh refetch  {stats.get('ingest/refetched/meta_refresh', 0)}")
    print(f"dedup rekeyed         {stats.get('ingest/dedup/rekeyed', 0)}")
    print(f"UNACCOUNTED           {unaccounted}  (served - stored - drops, filters, merges)")
    print(f"runs table: articles {len(articles)}, revisions {len(revisions)}")
    print("\nevery page not stored as its own row:")
    by_kind: Counter[str] = Counter()
    for page in pages:
        kind, detail = outcomes[id(page)]
        by_kind[kind] += 1
        if kind != "stored":
            print(f"  {kind:12} {detail:24} {page.set}/{page.id} {page.url}")
    print(f"per page: {dict(sorted(by_kind.items()))}")
    scorer, source = bow_scorer()
    print(f"\nbody F1 (bag of words, {source}):")
    for name in dict.fromkeys(p.set for p in pages):
        in_set = [p for p in pages if p.set == name]
        scores = []
        for page in in_set:
            row = by_fetched.get(url_key(page.url))
            if row is not None:
                scores.append(scorer({"truth": page.truth}, row["body"] or "")["f1"])
        mean_stored = sum(scores) / len(scores) if scores else 0.0
        mean_all = sum(scores) / len(in_set) if in_set else 0.0
        print(
            f"  {name:12} {len(scores):3}/{len(in_set):3} stored: F1 {mean_stored:.3f} over the "
            f"stored, {mean_all:.3f} over all served (not stored = 0)"
        )
    return 1 if unaccounted or by_kind["unaccounted"] or code != 0 else 0


if __name__ == "__main__":
    raise SystemExit(main())
