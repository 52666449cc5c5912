"""Hand-made article pages, one per failure class of issue 9, and pages that are not articles.

Each page is built the way real templates build them (site header and menu, the story, a
"related" rail, a footer), around a story of its own: a body of seven paragraphs whose text
differs per page (so dedup never merges two of them). The classes are those found on real
pages nobody here tuned on: a container named like boilerplate or hidden until a script shows
it that holds the whole story, JSON-LD that is only a slideshow's intro, a second story below
the first, no structured data at all, and text hygiene (entities, the site's name in the title,
consent placeholders of embedded videos).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html import escape

HOST = "news.example.org"
_PARAGRAPHS = (
    "The city council of {city} voted on Tuesday to spend {n} million hryvnias on new "
    "shelters for schools, after parents complained that children spent hours in cold "
    "basements during air raid alerts this winter.",
    "The mayor said the first twelve shelters would open before the start of the school "
    "year, and that contractors had been chosen through the public Prozorro system to keep "
    "the process open to scrutiny.",
    "Opposition deputies in {city} supported the plan but asked for monthly reports on the "
    "work, pointing out that a similar programme two years ago had run over its budget by a "
    "third and finished late.",
    "According to the regional education department, {n} schools in the district still have "
    "no shelter of their own, and their pupils study online whenever the sirens sound for "
    "longer than an hour.",
    "Teachers interviewed by our correspondent said that remote lessons had become routine, "
    "but that younger children in particular struggled to keep up when classes moved online "
    "several times a week.",
    "The council also approved a separate fund for generators and water tanks, so that the "
    "new shelters can be used for a whole day if the power grid is hit again by missile and "
    "drone attacks.",
    "Work on the first sites in {city} is due to begin next month; the council will publish "
    "the list of schools, the contractors and the agreed prices on its website, it said.",
)
_SECOND_STORY = (
    "In other news from the region, a new bridge over the river near {city} reopened to "
    "traffic on Monday after eight months of repairs financed by international donors.",
    "Drivers had been forced to take a detour of forty kilometres while the bridge was "
    "closed, and local businesses said the delays had cost them a large share of their trade.",
    "The regional administration said the repairs had been completed within the budget "
    "agreed last spring, and that the bridge could now carry heavy lorries again.",
)
_MENU = (
    '<header class="site-header"><a href="/">News Example</a><nav><ul>'
    '<li><a href="/politics/">Politics</a></li><li><a href="/economy/">Economy</a></li>'
    '<li><a href="/world/">World</a></li><li><a href="/sport/">Sport</a></li></ul></nav>'
    '<div class="lang-switch"><a href="/uk/">UA</a> <a href="/en/">EN</a></div></header>'
)
_RELATED = (
    '<aside class="related-rail"><h3>Most read</h3><ul>'
    '<li><a href="/a/1">Prices for bread rise again in the capital</a></li>'
    '<li><a href="/a/2">Football: the national team names its squad</a></li>'
    '<li><a href="/a/3">Weather: a cold week ahead for the whole country</a></li></ul></aside>'
)
# Readers' comments below the story: more text than the story itself, as on busy pages, so
# that a rule silencing the story's container hands the page to the comments.
_COMMENT_TEXT = (
    "I live near one of these schools and the basement there is simply not fit for children, "
    "it floods every spring and there is no ventilation at all. Good that something is done.",
    "Twelve shelters before September sounds optimistic to me. Last time the contractor "
    "disappeared with the advance payment and nobody was ever held responsible for it.",
    "My daughter studies online half of the week because of the alerts. Teachers do their "
    "best but it is not the same as being in class with the other children, believe me.",
    "Why does it take a vote of the council for such obvious things? The money was in the "
    "budget last year already, the deputies only needed to agree on where to spend it.",
)
_COMMENTS = (
    '<section class="comments"><h3>Comments</h3>'
    + "".join(
        f'<div class="comment"><span class="comment-author">Reader {i}</span><p>{c}</p></div>'
        for i, c in enumerate(_COMMENT_TEXT * 4)
    )
    + "</section>"
)
_FOOTER = (
    '<footer class="site-footer"><p>© 2026 News Example. All rights reserved.</p>'
    '<p><a href="/about">About us</a> · <a href="/contacts">Contacts</a></p></footer>'
)


@dataclass(kw_only=True)
class HandmadePage:
    """One page: its path on ``HOST``, its HTML, the paragraphs a clean body must hold and the
    texts it must not."""

    name: str
    title: str
    html: str
    paragraphs: list[str]
    must_not: list[str] = field(default_factory=list)
    is_article: bool = True

    @property
    def url(self) -> str:
        return f"https://{HOST}/news/2026/03/{self.name}.html"


def story(city: str, n: int) -> list[str]:
    """The seven paragraphs of one page's story."""
    return [p.format(city=city, n=n) for p in _PARAGRAPHS]


def _ps(paragraphs: list[str]) -> str:
    return "\n".join(f"<p>{escape(p)}</p>" for p in paragraphs)


def _page(
    title: str,
    inner: str,
    *,
    head: str = "",
    og_type: str = "website",
    h1: str | None = None,
    comments: bool = True,
) -> str:
    """A whole page: head with title and meta, the menu, ``inner`` in the main column, rail."""
    shown = h1 if h1 is not None else title
    heading = f"<h1>{escape(shown)}</h1>" if shown else ""
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}'
        f' | News Example</title><meta property="og:type" content="{og_type}">'
        f'<meta property="og:site_name" content="News Example">{head}</head><body>{_MENU}'
        f'<main class="layout"><div class="column-main">{heading}'
        f'<time datetime="2026-03-0{len(title) % 9 + 1}T09:30:00+02:00">9:30</time>'
        f"{inner}{_COMMENTS if comments else ''}</div>{_RELATED}</main>{_FOOTER}</body></html>"
    )


def _ld(headline: str | None, body: str | None = None, kind: str = "NewsArticle") -> str:
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": kind,
        "datePublished": "2026-03-04T09:30:00+02:00",
    }
    if headline is not None:
        data["headline"] = headline
    if body is not None:
        data["articleBody"] = body
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


def pages() -> list[HandmadePage]:
    """Every hand-made page, articles first."""
    out: list[HandmadePage] = []

    def add(name: str, city: str, n: int, wrap: str, *, title: str | None = None) -> None:
        text = story(city, n)
        headline = title or f"{city} to build {n} school shelters before September"
        inner = wrap.format(
            body=_ps(text), lead=_ps(text[:2]), rest=_ps(text[2:]), comments=_COMMENTS
        )
        html = _page(headline, inner, head=_ld(headline), comments="{comments}" not in wrap)
        out.append(HandmadePage(name=name, title=headline, html=html, paragraphs=text))

    # Absolute discard rules: a boilerplate-named or hidden container holds the whole story.
    add("sidebar", "Lviv", 41, '<div class="l-has-sidebar"><div>{body}</div></div>')
    # The story's rest in a named block, the comments inside the same <article> (WordPress).
    add(
        "widget",
        "Dnipro",
        42,
        '<article>{lead}<div class="widget widget-text">{rest}</div>{comments}</article>',
    )
    add(
        "paywalled",
        "Odesa",
        43,
        '<article>{lead}<div class="paywalled-content">{rest}</div>{comments}</article>',
    )
    add(
        "print_utility",
        "Kharkiv",
        44,
        '<article>{lead}<div class="text-base print:text-black print:block">{rest}</div>'
        "{comments}</article>",
    )
    add(
        "hidden_until_script",
        "Poltava",
        45,
        '<article><div id="story" class="story-body" hidden>{body}</div>'
        "<script>document.getElementById('story').hidden = false</script></article>",
    )
    add(
        "read_more_wrapper",
        "Sumy",
        46,
        '<article>{lead}<div id="read-more-content">{rest}</div>'
        '<div class="read-more"><a href="/news/">Read more news</a></div>{comments}</article>',
    )

    # JSON-LD articleBody that is only the intro of a slideshow: the page's story wins.
    text = story("Chernihiv", 47)
    headline = "Chernihiv to build 47 school shelters: the plans in pictures"
    intro = (
        "Chernihiv will build 47 new shelters for its schools before the autumn, the council "
        "decided this week. How will they look, and where will they be? See the architects' "
        "plans and the maps of every site in our slideshow, picture by picture."
    )
    slides = "".join(
        f'<div class="slide"><img src="/img/{i}.jpg" alt=""><p>{escape(p)}</p></div>'
        for i, p in enumerate(text)
    )
    out.append(
        HandmadePage(
            name="ld_intro_only",
            title=headline,
            html=_page(headline, f'<div class="gallery">{slides}</div>', head=_ld(headline, intro)),
            paragraphs=text,
        )
    )

    # A second story further down the page (infinite scroll): not part of the first.
    text = story("Vinnytsia", 48)
    second = [p.format(city="Vinnytsia") for p in _SECOND_STORY]
    headline = "Vinnytsia to build 48 school shelters before September"
    inner = (
        f'<article class="story">{_ps(text)}</article>'
        '<div class="next-story"><article class="story">'
        f"<h2>Bridge near Vinnytsia reopens after repairs</h2>{_ps(second)}</article></div>"
    )
    out.append(
        HandmadePage(
            name="second_article",
            title=headline,
            html=_page(headline, inner, head=_ld(headline)),
            paragraphs=text,
            must_not=second,
        )
    )

    # No structured data, og:type website: the content says it is an article.
    text = story("Zhytomyr", 49) + story("Zhytomyr", 50)[:5]
    headline = "Zhytomyr to build 49 school shelters before September"
    out.append(
        HandmadePage(
            name="no_structured_data",
            title=headline,
            html=_page(headline, f"<article>{_ps(text)}</article>"),
            paragraphs=text,
        )
    )

    # Text hygiene: entities escaped twice in JSON-LD, an entity and the site's name in the
    # title, a consent placeholder where a video would be.
    text = story("Rivne", 51)
    text[2] = text[2].replace("pointing out", "pointing out (in a Q&A session)")
    headline = "Rivne's council: 51 school shelters & generators"
    placeholder = (
        '<div class="embed-placeholder"><p>This content is provided by YouTube. To see it, '
        "please accept the cookies of YouTube in your privacy settings.</p>"
        "<button>Accept and show the video</button></div>"
    )
    body_html = _ps(text[:3]) + placeholder + _ps(text[3:])
    ld_body = "\n".join(escape(p) for p in text)  # HTML entities inside the JSON string
    # og:title escaped twice by the CMS, with the site's name; no JSON-LD headline, no <h1>.
    og_title = escape(escape(headline) + " | News Example")
    head = _ld(None, ld_body) + f'<meta property="og:title" content="{og_title}">'
    out.append(
        HandmadePage(
            name="hygiene",
            title=headline,
            html=_page(headline, f"<article>{body_html}</article>", head=head, h1=""),
            paragraphs=text,
            must_not=["This content is provided by YouTube", "&amp;", "&#x27;"],
        )
    )
    out.extend(_not_articles())
    return out


def _not_articles() -> list[HandmadePage]:
    """Pages a crawl reaches that are no articles: index, tag, search, video-only."""
    teasers = "".join(
        f'<div class="teaser"><h2><a href="/news/2026/03/story-{i}.html">{escape(t)}</a></h2>'
        f"<p>{escape(s)}</p></div>"
        for i, (t, s) in enumerate(
            [
                ("Lviv to build school shelters", "The council voted on Tuesday."),
                ("Bridge reopens near Vinnytsia", "Repairs took eight months."),
                ("Prices for bread rise again", "Bakers blame the cost of power."),
                ("National team names its squad", "Two newcomers are in it."),
                ("A cold week ahead", "Forecasters expect frost at night."),
                ("Drone attack on Kharkiv", "Power was cut in two districts."),
            ]
        )
    )
    index = _page("Latest news", teasers, h1="Latest news")
    tag_links = "".join(
        f'<li><a href="/news/2026/03/t-{i}.html">School shelters: update number {i} on the '
        f"building works</a> <span>4 March</span></li>"
        for i in range(15)
    )
    tag = _page("Tag: shelters", f'<ul class="tag-list">{tag_links}</ul>', h1="Shelters")
    search = _page(
        "Search: shelters",
        f'<form action="/search"><input name="q" value="shelters"></form>'
        f'<p class="found">12 results for "shelters"</p><ol>{tag_links}</ol>',
        h1="Search results",
    )
    video = _page(
        "Video: the new shelter in Lviv",
        '<div class="player"><video src="/v/1.mp4" controls></video></div>'
        "<p>Watch the new shelter in Lviv.</p>",
        head=_ld("Video: the new shelter in Lviv", kind="VideoObject"),
        og_type="video.other",
    )
    return [
        HandmadePage(name=name, title="", html=html, paragraphs=[], is_article=False)
        for name, html in (
            ("index_page", index),
            ("tag_page", tag),
            ("search_page", search),
            ("video_only", video),
        )
    ]
