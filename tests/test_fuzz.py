"""Property-based fuzzing of the text path: extraction, cleaning, normalisation and decoding
never raise and stay within a time bound per page, on random HTML and on mutations of the real
pages in tests/fixtures (news_pages, rbc).

A modest, derandomized example count (profile ``fuzz``) keeps the suite fast and CI stable; set
``HYPOTHESIS_PROFILE=fuzz-long`` for a longer hunt.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from ingest.crawl.decoding import better_encoding, looks_binary
from ingest.extract import extract_article, extract_clean
from ingest.extract.clean import clean_fragment
from pipelines.normalise import NormalisePipeline, normalise_text

from .conftest import FIXTURES

settings.register_profile(
    "fuzz",
    max_examples=25,
    derandomize=True,
    deadline=None,  # the bound is asserted below, after a warm-up, not by hypothesis' timer
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("fuzz-long", parent=settings.get_profile("fuzz"), max_examples=300)
PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz"))
TIME_BOUND = 2.0  # seconds per page, for the whole extraction of a 500 kB page
PAGES = sorted([*(FIXTURES / "news_pages").glob("*.html"), *(FIXTURES / "rbc").glob("*.html")])
PAGE_TEXT = {p.name: p.read_text("utf-8", errors="replace") for p in PAGES}
RBC_URL = "https://www.rbc.ua/rus/news/fuzz-1751640540.html"
OTHER_URL = "https://example.com/news/fuzz"

# Text as scraped pages carry it: Cyrillic, Latin, controls, U+FFFD, invisible characters.
ALPHABET = st.characters(
    codec="utf-8",
    categories=("L", "N", "P", "Zs", "Cc", "Cf", "So"),
    include_characters="\ufffd\u00ad\u200b\ufeffґєії«»—’",
)
TEXT = st.text(ALPHABET, max_size=200)
TAGS = ("div", "p", "article", "h1", "h2", "span", "a", "figure", "figcaption", "script",
        "style", "table", "td", "ul", "li", "br", "img", "section", "aside", "nav")  # fmt: skip
ATTRS = st.sampled_from(
    [
        "",
        ' class="txt"',
        ' class="share"',
        ' id="read_more"',
        ' src="x.jpg"',
        " hidden",
        ' class="publication-lead"',
        ' property="og:type" content="article"',
    ]
)


def element(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda tag, attrs, inner, close: (
            f"<{tag}{attrs}>{''.join(inner)}" + (f"</{tag}>" if close else "")
        ),
        st.sampled_from(TAGS),
        ATTRS,
        st.lists(children, max_size=4),
        st.booleans(),  # unclosed tags are what real pages are made of
    )


RANDOM_HTML = st.recursive(TEXT, element, max_leaves=60)


@st.composite
def mutated_page(draw: st.DrawFn) -> str:
    """A real page with a few slices deleted, duplicated, cut, or stuffed with junk."""
    html = PAGE_TEXT[draw(st.sampled_from(sorted(PAGE_TEXT)))]
    for _ in range(draw(st.integers(1, 4))):
        size = len(html)
        at = draw(st.integers(0, size))
        span = draw(st.integers(0, min(5000, size - at)))
        kind = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "nest"]))
        if kind == "delete":
            html = html[:at] + html[at + span :]
        elif kind == "duplicate":
            html = html[: at + span] + html[at : at + span] + html[at + span :]
        elif kind == "insert":
            html = html[:at] + draw(st.one_of(TEXT, RANDOM_HTML)) + html[at:]
        elif kind == "truncate":
            html = html[:at]
        else:
            # up to the ~2,048 levels lxml hands on; deeper nesting never reaches the cleaner
            html = html[:at] + "<div>" * draw(st.integers(100, 2000)) + html[at:]
    return html


def timed(func: object, *args: object) -> float:
    start = time.perf_counter()
    func(*args)  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.fixture(scope="module", autouse=True)
def warm_up() -> None:
    """langdetect loads its profiles on first use (~0.3 s): not part of any page's time."""
    extract_article(PAGE_TEXT[PAGES[0].name], OTHER_URL)


def extract_all(html: str) -> None:
    """What a crawl does with a page: extract (site rules and generic), clean, normalise."""
    for url in (RBC_URL, OTHER_URL):
        item = extract_article(html, url)
        pipeline = NormalisePipeline(MemoryStatsCollector(get_crawler()))
        with contextlib.suppress(DropItem):  # an undecodable body is a counted drop
            asyncio.run(pipeline.process_item(item))


@PROFILE
@given(mutated_page())
def test_extraction_of_mutated_real_pages(html: str) -> None:
    assert timed(extract_all, html) < TIME_BOUND


@PROFILE
@given(RANDOM_HTML)
def test_extraction_of_random_html(html: str) -> None:
    assert timed(extract_all, html) < TIME_BOUND


@PROFILE
@given(st.one_of(RANDOM_HTML, mutated_page()))
def test_clean_fragment_on_any_fragment(html: str) -> None:
    start = time.perf_counter()
    cleaned = clean_fragment(html, base_url=RBC_URL, title="Заголовок")
    assert time.perf_counter() - start < TIME_BOUND
    assert "<script" not in cleaned.body_html
    assert cleaned.body == "\n\n".join(cleaned.paragraphs)


@PROFILE
@given(st.text(ALPHABET, max_size=2000))
def test_normalise_text_leaves_clean_text(text: str) -> None:
    """Not idempotent, and not asked to be: ftfy's repairs are heuristics, and on adversarial
    strings ("\\x81Â¡") a second pass finds mojibake the first left. Pages are normalised
    once, from their own text."""
    result = normalise_text(text)
    for out in (result.text, normalise_text(result.text).text):
        assert not any(ch in out for ch in "\x00\x07\x1b\x7f\x81\u00ad\u200b\ufeff")
    assert result.replacements == result.text.count("\ufffd")


@PROFILE
@given(st.binary(max_size=4000), st.sampled_from(["", "utf-8", "windows-1251", "koi8-u", "x"]))
def test_decoding_any_bytes(body: bytes, charset: str) -> None:
    headers = {"Content-Type": f"text/html; charset={charset}" if charset else "text/html"}
    response = HtmlResponse(RBC_URL, body=body, headers=headers, request=Request(RBC_URL))
    looks_binary(body)
    encoding = better_encoding(response)
    if encoding is not None:
        body.decode(encoding)  # a correction always decodes the whole body cleanly
    extract_clean(response.replace(encoding=encoding).text if encoding else response.text, RBC_URL)


def test_the_deepest_page_lxml_keeps_is_within_the_bound() -> None:
    """2,000 nested elements (lxml keeps up to ~2,048) around the text: the worst case the
    cleaner sees in a crawl, once quadratic in bs4, now well under the bound."""
    html = PAGE_TEXT[PAGES[0].name]
    deep = "<div>" * 2000 + "<p>Текст статті.</p>" + "</div>" * 2000
    start = time.perf_counter()
    cleaned = clean_fragment(deep, base_url="https://x.test/")
    assert time.perf_counter() - start < TIME_BOUND / 2
    assert cleaned.paragraphs == ["Текст статті."]
    assert timed(extract_all, html.replace("</body>", deep + "</body>")) < TIME_BOUND


def test_a_control_character_in_the_page_found_by_the_fuzzer() -> None:
    """lxml refused to set a text with \\x1f again: generic extraction raised ValueError."""
    html = "0\x1f0" + PAGE_TEXT["allnews.html"].replace("<p>", "<p>\x01\x1f", 1)
    extract_all(html)
