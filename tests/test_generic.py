"""Generic extraction (issue 3): what must and must not survive, on made-up and real pages."""

from __future__ import annotations

import json

import lxml.html
import pytest

from ingest.extract import extract_body
from ingest.extract.generic import find_main_content, word_coverage

from .conftest import NEWS_PAGES, news_page_urls, token_f1

STORY = [
    "The city council approved the new budget on Tuesday, after a debate that lasted, by most "
    "accounts, well past midnight and left several members visibly tired.",
    "Under the plan, spending on public transport rises by twelve percent, while road "
    "maintenance, parks and libraries keep last year's amounts, the finance office said.",
    "Opposition members argued that the increase, although welcome, does not cover the cost of "
    "the new tram line, which is expected to open, at the earliest, in three years.",
    "The mayor said the budget was balanced, prudent and fair, and promised a review of the "
    "transport figures in the spring, once the first ridership numbers are in.",
]


def _page(story: list[str], *, ld_body: str | None = None) -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in story)
    ld = (
        '<script type="application/ld+json">'
        + json.dumps({"@type": "NewsArticle", "headline": "Budget", "articleBody": ld_body})
        + "</script>"
        if ld_body is not None
        else ""
    )
    teasers = "".join(
        f'<li><a href="/n/{i}">Other story number {i} about something else entirely</a></li>'
        for i in range(8)
    )
    comments = "".join(
        f'<div class="comment"><p>Reader {i} wrote: I disagree with this, and with the '
        f"council, and frankly with everyone involved in it, for many reasons.</p></div>"
        for i in range(6)
    )
    return f"""<html><head><title>Budget</title>{ld}</head><body>
      <header class="site-header"><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
      <div class="layout">
        <main><article class="story">
          <h1>Budget</h1>
          <div class="share-tools"><a href="#">Share on Facebook</a> <a href="#">Tweet</a></div>
          <div class="article-body">{paragraphs}</div>
          <div class="related-stories"><h3>Related</h3><ul>{teasers}</ul></div>
        </article>
        <section id="comments" class="comments-area">{comments}</section></main>
        <aside class="sidebar"><h3>Most read</h3><p>A sidebar blurb that is long enough to count,
          with commas, many, many commas, to tempt a naive scorer.</p></aside>
      </div>
      <footer><p>Copyright 2024 Example Media, all rights reserved, everywhere.</p></footer>
    </body></html>"""


def test_article_kept_boilerplate_gone() -> None:
    body = extract_body(_page(STORY), "https://example.com/budget")
    for paragraph in STORY:
        assert paragraph in body
    for noise in ("Share on Facebook", "Other story number", "Reader 3 wrote", "sidebar blurb"):
        assert noise not in body
    assert "Copyright 2024" not in body


def test_find_main_content_returns_a_detached_copy() -> None:
    root = lxml.html.fromstring(_page(STORY))
    before = lxml.html.tostring(root)
    main = find_main_content(root)
    assert main is not None
    assert main.getparent() is None
    assert lxml.html.tostring(root) == before  # the page tree is read again for other fields
    assert STORY[0] in main.text_content()


def test_no_paragraph_no_container() -> None:
    root = lxml.html.fromstring("<html><body><a href='/'>Home</a></body></html>")
    assert find_main_content(root) is None


def test_article_split_in_sections_is_kept_whole() -> None:
    """Pictures and ads cut the story into sibling blocks: every part belongs to the body."""
    parts = "".join(
        f'<div class="body-part"><p>{p}</p></div><div class="ad-slot"></div>' for p in STORY
    )
    html = f"<html><body><div class='page'><h1>Budget</h1><div class='x'>{parts}</div></div>"
    html += "<div class='footer-links'><a href='/a'>About</a> <a href='/c'>Contact</a></div>"
    body = extract_body(html + "</body></html>", "https://example.com/budget")
    for paragraph in STORY:
        assert paragraph in body


def test_text_loose_next_to_a_title_block() -> None:
    """A story as bare text after a title <p> (no <p> of its own) is still found."""
    story = " ".join(STORY)
    html = f"""<html><body>
      <div class="menu"><ul>{"".join(f"<li><a href='/{i}'>Month {i}</a></li>" for i in range(30))}
      </ul></div>
      <div class="col"><p class="title">Budget approved</p><small>05/10/2018</small><br>
      <img src="/a.jpg">{story}<br><br></div>
      <div class="bottom"><p>Street 1, 1111 - Town - Phone: (047) 2106-8000, all day</p></div>
    </body></html>"""
    body = extract_body(html, "https://example.com/b")
    assert STORY[0] in body
    assert "2106-8000" not in body


def test_short_ld_body_is_a_teaser_generic_wins() -> None:
    ld = STORY[0][:120]
    body = extract_body(_page(STORY, ld_body=ld), "https://example.com/budget")
    assert all(p in body for p in STORY)


def test_ld_body_teaser_covered_by_container_is_not_used_alone() -> None:
    ld = " ".join(STORY)[:300] + "..."
    body = extract_body(_page(STORY, ld_body=ld), "https://example.com/budget")
    assert all(p in body for p in STORY)


def test_ld_body_used_when_the_page_has_no_article_markup() -> None:
    """The text only in JSON-LD (rendered by script): articleBody is the body."""
    ld = "\n".join(STORY)
    html = (
        '<html><head><script type="application/ld+json">'
        + json.dumps({"@type": "NewsArticle", "articleBody": ld})
        + "</script></head><body><div id='app'><p>Loading the article, please wait, "
        "thank you, for a moment.</p></div></body></html>"
    )
    body = extract_body(html, "https://example.com/spa")
    assert all(p in body for p in STORY)


def test_word_coverage() -> None:
    el = lxml.html.fromstring("<div><p>one two three</p></div>")
    assert word_coverage(el, "one two") == 1.0
    assert word_coverage(el, "one four") == 0.5
    assert word_coverage(el, "") == 0.0


# --- real pages (tests/fixtures/news_pages, see its README) -----------------------------------


def _fundus_pages() -> list[str]:
    return sorted(
        p.name.removesuffix(".expected.json")
        for p in NEWS_PAGES.glob("*.expected.json")
        if "body" in json.loads(p.read_text("utf-8"))
    )


_KNOWN_SHORT = {
    # fundus' expected text leaves out the page's bullet list (<ul> of limits), which is article
    # text all the same: the list is what costs the 0.07.
    "ua_epravda_2025-10-24_uk": "expected paragraphs leave out the article's bullet list",
}


@pytest.mark.parametrize(
    "stem",
    [
        pytest.param(s, marks=pytest.mark.xfail(reason=_KNOWN_SHORT[s], strict=True))
        if s in _KNOWN_SHORT
        else s
        for s in _fundus_pages()
    ],
)
def test_fundus_page_body(stem: str) -> None:
    """Issue 3's bar: body token F1 >= 0.95 against the expected headings and paragraphs."""
    expected = json.loads((NEWS_PAGES / f"{stem}.expected.json").read_text("utf-8"))["body"]
    want = " ".join(
        [h for s in expected["sections"] for h in s["headline"]]
        + [p for s in expected["sections"] for p in s["paragraphs"]]
    )
    html = (NEWS_PAGES / f"{stem}.html").read_text("utf-8", errors="replace")
    assert token_f1(extract_body(html, news_page_urls()[stem]), want) >= 0.95


def test_trafilatura_football_ua_page() -> None:
    stem = "ua_football_2016-08-15_ru-body_uk-footer"
    expected = json.loads((NEWS_PAGES / f"{stem}.expected.json").read_text("utf-8"))
    html = (NEWS_PAGES / f"{stem}.html").read_text("utf-8", errors="replace")
    body = " ".join(extract_body(html, expected["url"]).split())
    for snippet in expected["with"]:
        assert " ".join(snippet.split()) in body
    for snippet in expected["without"]:
        assert " ".join(snippet.split()) not in body
    for comment in expected["comments"]:
        assert " ".join(comment.split()) not in body
