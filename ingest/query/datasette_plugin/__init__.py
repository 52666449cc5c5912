"""Our Datasette plugin, loaded by ``ingest serve``: search by lemma in the browser (the SQL
function ``ingest_match`` and the page ``/-/search``), a readable article view
(``/-/article?url=...``), and table pages with column descriptions as header tooltips.

Why a plugin: the analysis of a query (lemmas, stems) is our Python code, which a
canned query cannot call. The file itself needs none of it: plain Datasette opens it and
searches ``articles_fts`` by exact words. The templates beside this module are found by
Datasette because the module is registered as a plugin (``ingest serve``)."""

from __future__ import annotations

import html
import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import pluggy
from markupsafe import Markup

from ingest.query import quote_words
from ingest.store import search_index

# Datasette's plugin marker, as in ingest/cli/query.py: Datasette is imported only by its views.
hookimpl = pluggy.HookimplMarker("datasette")

SEARCH_PATH = "/-/search"
ARTICLE_PATH = "/-/article"
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MARK = ("<mark>", "</mark>")
_BM25 = ", ".join(str(w) for w in search_index.BM25_WEIGHTS)
# articles_fts has no lang column: title, lead, body weighted as in articles_search.
BM25_EXACT = search_index.BM25_WEIGHTS[1:]
_ARTICLE_COLUMNS = "a.url, a.title, a.site, a.lang, a.published"
# Every value is a bound parameter; only these fixed texts are joined in.
LEMMA_SQL = (
    f"select {_ARTICLE_COLUMNS}, a.lead, a.body, {search_index.highlight_sql()}, "  # noqa: S608
    f"bm25({search_index.SEARCH_TABLE}, {_BM25}) as score "
    f"from {search_index.SEARCH_TABLE} "
    f"join articles a on a.rowid = {search_index.SEARCH_TABLE}.rowid "
    f"where {search_index.SEARCH_TABLE} match ingest_match(:q, :lang) "
    "and (:lang = '' or a.lang = :lang) "
    "order by score, a.published desc limit :limit"
)
# The exact words, when the morphology index is missing or incomplete (see search_rows).
EXACT_SQL = (
    f"select {_ARTICLE_COLUMNS}, "  # noqa: S608
    "snippet(articles_fts, -1, char(2), char(3), '…', 16) as snippet, "
    f"bm25(articles_fts, {', '.join(str(w) for w in BM25_EXACT)}) as score "
    "from articles_fts join articles a on a.rowid = articles_fts.rowid "
    "where articles_fts match :q and (:lang = '' or a.lang = :lang) "
    "order by score, a.published desc limit :limit"
)
ARTICLE_SQL = (
    "select url, title, lead, body, site, lang, published, section, authors, story_id "
    "from articles where url = ?"
)
IMAGES_SQL = (
    "select src, caption, credit from images where article_url = ? order by position, rowid"
)
# The other language versions of the story; ``stored`` says whether we have the page.
VERSIONS_SQL = (
    "select t.lang, t.url, a.title, a.url is not null as stored "
    "from translations t left join articles a on a.url = t.url "
    "where t.story_id = ? and t.url != ? order by t.lang"
)
LANGUAGES_SQL = (
    "select lang, count(*) as n from articles where lang is not null "
    "group by lang order by n desc, lang"
)


def ingest_match(query: str | None, lang: str | None = None) -> str:
    """The FTS5 MATCH expression for ``articles_search`` of plain words ``query`` (quoted
    phrases allowed), analysed as ``ingest search`` does: for ``lang``'s analysis, or for every
    language's when ``lang`` is empty. In SQL: ``articles_search match ingest_match(?, 'uk')``."""
    keys = search_index.keys_for([lang] if lang else [])
    return search_index.rewrite(query or "", keys=keys).match


@hookimpl
def prepare_connection(conn: sqlite3.Connection) -> None:
    conn.create_function("ingest_match", 1, ingest_match, deterministic=True)
    conn.create_function("ingest_match", 2, ingest_match, deterministic=True)


def _rows(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    columns = [c[0] for c in cursor.description]
    for row in cursor:
        yield dict(zip(columns, row, strict=True))


def marked_html(text: str) -> Markup:
    """Text with FTS5's char(2)/char(3) marks as escaped HTML with ``<mark>`` elements."""
    escaped = html.escape(text).replace(search_index.MARK_START, MARK[0])
    return Markup(escaped.replace(search_index.MARK_END, MARK[1]))  # noqa: S704  (escaped)


def search_hits(
    conn: sqlite3.Connection, query: str, lang: str, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """Best matches first, each with an HTML snippet in the article's own words; and whether
    the search was by lemma (False: the exact words of ``articles_fts``)."""
    params = {"q": query, "lang": lang, "limit": limit}
    if search_index.index_is_current(conn):
        hits = list(_rows(conn.execute(LEMMA_SQL, params)))
        for hit in hits:
            hit["snippet"] = Markup(  # noqa: S704  (escaped by best_snippet)
                search_index.best_snippet(hit, mark=MARK, escape=html.escape)
            )
            search_index.pop_highlights(hit)
            del hit["lead"], hit["body"]
        return hits, True
    hits = list(_rows(conn.execute(EXACT_SQL, {**params, "q": quote_words(query)})))
    for hit in hits:
        hit["snippet"] = marked_html(hit["snippet"] or "")
    return hits, False


def paragraphs(body: str | None, lead: str | None) -> list[str]:
    """The body's paragraphs (stored separated by a blank line), without a repeated lead."""
    found = [p.strip() for p in (body or "").split("\n\n") if p.strip()]
    if found and lead and found[0] == lead.strip():
        found = found[1:]
    return found


def web_url(url: str | None) -> str | None:
    """``url`` when it is an http(s) URL, safe to put in a link; else None."""
    if url and urlsplit(url).scheme in ("http", "https"):
        return url
    return None


def article_page(conn: sqlite3.Connection, url: str) -> dict[str, Any] | None:
    """What the article view shows: the stored article, its images, its other versions."""
    article = next(_rows(conn.execute(ARTICLE_SQL, [url])), None)
    if article is None:
        return None
    try:
        authors = json.loads(article["authors"] or "[]")
    except json.JSONDecodeError:
        authors = [article["authors"]]
    article["authors"] = ", ".join(str(a) for a in authors) if isinstance(authors, list) else ""
    article["paragraphs"] = paragraphs(article["body"], article["lead"])
    article["link"] = web_url(article["url"])
    images = [
        {**image, "src": web_url(image["src"])} for image in _rows(conn.execute(IMAGES_SQL, [url]))
    ]
    versions: list[dict[str, Any]] = []
    if article["story_id"]:
        for version in _rows(conn.execute(VERSIONS_SQL, [article["story_id"], url])):
            version["link"] = web_url(version["url"])
            versions.append(version)
    return {"article": article, "images": images, "versions": versions}


def _time_limited(datasette: Any, work: Callable[[sqlite3.Connection], Any]) -> Any:
    """``work`` under Datasette's ``sql_time_limit_ms``, as its own queries run."""
    from datasette.utils import sqlite_timelimit

    def limited(conn: sqlite3.Connection) -> Any:
        with sqlite_timelimit(conn, datasette.setting("sql_time_limit_ms")):
            return work(conn)

    return limited


async def _database(datasette: Any, request: Any) -> Any:
    """The database named by ``?db=`` (the first one served by default), readable by the
    actor; a 404 when there is no such database or it has no articles."""
    from datasette.utils.asgi import NotFound

    name = request.args.get("db") or None
    try:
        db = datasette.get_database(name)
    except (KeyError, IndexError) as error:
        raise NotFound(f"no database {name!r}") from error
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (db.name, "articles")), ("view-database", db.name), "view-instance"],
    )
    if not await db.table_exists("articles"):
        raise NotFound(f"database {db.name!r} has no articles table")
    return db


def article_href(datasette: Any, database: str, url: str) -> str:
    return str(datasette.urls.path(ARTICLE_PATH)) + "?" + urlencode({"db": database, "url": url})


async def search_view(datasette: Any, request: Any) -> Any:
    from datasette.utils.asgi import Response

    db = await _database(datasette, request)
    query = (request.args.get("q") or "").strip()
    lang = (request.args.get("lang") or "").strip()
    try:
        limit = min(max(int(request.args.get("limit") or DEFAULT_LIMIT), 1), MAX_LIMIT)
    except ValueError:
        limit = DEFAULT_LIMIT
    languages = (await db.execute(LANGUAGES_SQL)).rows
    hits: list[dict[str, Any]] = []
    by_lemma, error = True, None
    if query:
        try:
            hits, by_lemma = await db.execute_fn(
                _time_limited(datasette, lambda conn: search_hits(conn, query, lang, limit))
            )
        except sqlite3.OperationalError as failure:
            error = f"The search failed: {failure}"
            if "interrupted" in str(failure):  # Datasette's sql_time_limit_ms
                limit_ms = datasette.setting("sql_time_limit_ms")
                error = f"The search took longer than {limit_ms} ms: try fewer words."
    for hit in hits:
        hit["href"] = article_href(datasette, db.name, hit["url"])
    context = {
        "database": db.name,
        "q": query,
        "lang": lang,
        "limit": limit,
        "languages": [(row["lang"], row["n"]) for row in languages],
        "hits": hits,
        "by_lemma": by_lemma,
        "error": error,
        "search_path": datasette.urls.path(SEARCH_PATH),
        "table_url": datasette.urls.table(db.name, "articles"),
    }
    page = await datasette.render_template("ingest_search.html", context, request=request)
    return Response.html(page)


async def article_view(datasette: Any, request: Any) -> Any:
    from datasette.utils import tilde_encode
    from datasette.utils.asgi import NotFound, Response

    db = await _database(datasette, request)
    url = request.args.get("url") or ""
    found = await db.execute_fn(_time_limited(datasette, lambda conn: article_page(conn, url)))
    if found is None:
        raise NotFound(f"no stored article at {url!r}")
    for version in found["versions"]:
        if version["stored"]:
            version["href"] = article_href(datasette, db.name, version["url"])
    context = {
        "database": db.name,
        **found,
        "row_url": datasette.urls.row(db.name, "articles", tilde_encode(url)),
        "search_path": datasette.urls.path(SEARCH_PATH),
    }
    page = await datasette.render_template("ingest_article.html", context, request=request)
    return Response.html(page)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(rf"^{SEARCH_PATH}$", search_view), (rf"^{ARTICLE_PATH}$", article_view)]


@hookimpl
def menu_links(datasette: Any) -> list[dict[str, str]]:
    return [{"href": str(datasette.urls.path(SEARCH_PATH)), "label": "Search articles"}]


@hookimpl
def render_cell(
    row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any
) -> Any:
    """An article's title, in the articles table, links to its readable view."""
    if table != "articles" or column != "title" or not isinstance(value, str):
        return None
    try:
        url = row["url"]
    except (IndexError, KeyError):  # a query's rows, without the url
        return None
    href = html.escape(article_href(datasette, database, url))
    return Markup(f'<a href="{href}">{html.escape(value)}</a>')  # noqa: S704
