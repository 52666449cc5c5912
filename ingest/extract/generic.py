"""Generic main-content detection for pages of sites we have no rules for.

Readability's idea, measured on the already-parsed lxml tree in one pass: every block's inline
text is a "paragraph" whose score (length, commas) flows to its ancestors, damped by link
density and by class/id hints; the best container and its related siblings are copied, and the
copy is pruned of link lists, hidden parts and boilerplate-named blocks (trafilatura's discard
lists). The page tree itself is never modified: the extractor reads it again for other fields.
"""

from __future__ import annotations

import re
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass

import lxml.html
from lxml.etree import _Element

# Text that is never article text, whatever the page says.
_NON_CONTENT = frozenset(
    {"script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
     "canvas", "select", "option", "button", "textarea", "input", "head", "title", "meta",
     "link", "map", "audio", "video", "dialog"}
)  # fmt: skip
# Page chrome: text in here does not vote for a container.
_CHROME = frozenset({"nav", "aside", "footer", "menu"})
# Inline tags: their text belongs to the enclosing block's paragraph.
_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "dfn", "em", "font", "i",
     "kbd", "mark", "q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "tt", "u",
     "var", "wbr", "br", "img", "picture", "source", "label", "del", "ins", "strike", "nobr"}
)  # fmt: skip
# Containers of these tags are rarely the article itself.
_TAG_FACTOR = {"ol": 0.8, "ul": 0.8, "dl": 0.8, "li": 0.8, "form": 0.9, "address": 0.8}
_MIN_PARAGRAPH = 25
_HEADINGS = frozenset({"h1", "h2", "h3"})
_PARAGRAPH_TAGS = frozenset(
    {"p", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dd", "dt", "th"}
)
_TEASER_LINKS = 0.3  # link density above which a block of paragraphs is a list of teasers
_EXPAND_SHARE = 0.2  # a parent adding this share of paragraph points continues the article
_PIECE_SHARE = 0.1  # the least share of those points a non-paragraph sibling must bring
_UNLIKELY_SHARE = 0.4  # an unlikely-named block holding more of the page's text is a wrapper
# A block with this many paragraphs of prose and characters, and few links, reads like article
# text whatever its name says.
_ARTICLE_PROSE = 3
_ARTICLE_CHARS = 600
_ARTICLE_LINKS = 0.15
_PROSE_RUN = 80  # a run of text this long with few links is a paragraph of prose

# Class/id hints, matched as word prefixes on the words of class and id ("PageBuilder-pageRow"
# is "page builder page row": no "pager" in it), from readability's lists plus news add-ons.
_UNLIKELY_RE = re.compile(
    r"\b(?:combx|comment|community|disqus|extra|foot|header|menu|remark|rss|shoutbox|sidebar|"
    r"sponsor|ad break|agegate|pagination|pager|popup|tweet|twitter|cookie|consent|banner|"
    r"newsletter|subscri|related|recommend|outbrain|taboola|breadcrumb|share|social)"
)
_MAYBE_RE = re.compile(r"\b(?:and|article|body|column|main|shadow|content|story|post)")
_POSITIVE_RE = re.compile(
    r"\b(?:article|body|content|entry|hentry|main|page|post|text|blog|story|prose)"
)
_NEGATIVE_RE = re.compile(
    r"\b(?:hidden|hid|banner|combx|comment|com|contact|foot|masthead|media|meta|outbrain|promo|"
    r"related|scroll|shoutbox|sidebar|skyscraper|sponsor|shopping|tags|tool|widget|share|social|"
    r"newsletter|subscri|recommend|popular|trending|taboola|byline|author|caption|disclaimer|"
    r"signup|login|nav|menu|breadcrumb|cookie)"
)
# Inside the chosen container: blocks removed with their content whatever their text.
_DISCARD_RE = re.compile(
    r"\b(?:comment|disqus|related|recommend|outbrain|taboola|share|sharing|social|newsletter|"
    r"subscri|signup|promo|advert|sponsor|breadcrumb|pagination|pager|tags|tagcloud|"
    r"read more|more stories|most popular|trending|widget|sidebar|cookie|consent|paywall|"
    r"byline|author (?:bio|box|info)|rating|print|toolbar|tools|caption|credit|more news)"
)
_COMMENTS_RE = re.compile(r"\b(?:comment|disqus|reply|replies)")
_KEEP_RE = re.compile(r"\b(?:article body|articlebody|story body|entry content|post body)")
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_COMMA_RE = re.compile(r"[,，、،]")
_HIDDEN_STYLE_RE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)


_HINTS: dict[str, str] = {}  # class and id -> hint: templates repeat the same few names
_MAX_HINTS = 50_000


def _hint(el: _Element) -> str:
    """The words of class and id, lower case: "articleBody story-x" -> "article body story x".

    Memoised by the raw names (a page has some thousand elements and a few hundred distinct
    class/id pairs): computing each one again was a quarter of ``_measure``."""
    raw = f"{el.get('class', '')} {el.get('id', '')}"
    if raw == " ":
        return ""
    hint = _HINTS.get(raw)
    if hint is None:
        if len(_HINTS) >= _MAX_HINTS:
            _HINTS.clear()
        hint = _HINTS[raw] = " ".join(_WORD_RE.findall(raw)).lower()
    return hint


def _class_weight(hint: str) -> float:
    """Readability's class weight: +25 for article-like names, -25 for chrome-like ones."""
    if not hint:
        return 0.0
    weight = 0.0
    if _NEGATIVE_RE.search(hint):
        weight -= 25
    if _POSITIVE_RE.search(hint):
        weight += 25
    return weight


def _hidden(el: _Element) -> bool:
    get = el.get  # el.attrib would build a proxy object per element
    if get("hidden") is not None or get("aria-hidden") == "true":
        return True
    style = get("style")
    return bool(style and _HIDDEN_STYLE_RE.search(style))


class _Stats:
    """Per-element text measures, computed bottom-up in one pass over the page."""

    __slots__ = (
        "commas", "comments", "hidden", "hint", "inline", "inline_link", "is_inline", "link",
        "mass", "parent", "prose", "skip", "total",
    )  # fmt: skip

    def __init__(self, parent: _Stats | None, is_inline: bool) -> None:
        self.total = 0  # text length of the whole subtree
        self.link = 0  # of which inside <a>
        self.inline = 0  # text of the element's own inline run (its "paragraph")
        self.inline_link = 0
        self.commas = 0  # commas in the inline run
        self.skip = False  # in chrome or an unlikely-named block: does not vote
        self.comments = False  # named like a comment section
        self.hidden = False  # hidden (attribute or style), or inside a hidden block
        self.prose = 0  # paragraphs of prose (long runs of text, few links) in the subtree
        self.hint = ""  # class and id words
        self.mass = 0.0  # paragraph points of the whole subtree, undamped
        self.parent = parent  # the parent element's stats (None for the root)
        self.is_inline = is_inline  # an inline tag: its text belongs to the parent's paragraph


_HINT_FLAGS: dict[str, tuple[bool, bool]] = {}  # hint -> (unlikely name, comments name)


def _hint_flags(hint: str) -> tuple[bool, bool]:
    """Whether a hint names an unlikely block (and no likely one), and a comment section."""
    flags = _HINT_FLAGS.get(hint)
    if flags is None:
        if len(_HINT_FLAGS) >= _MAX_HINTS:
            _HINT_FLAGS.clear()
        flags = _HINT_FLAGS[hint] = (
            bool(_UNLIKELY_RE.search(hint) and not _MAYBE_RE.search(hint)),
            bool(_COMMENTS_RE.search(hint)),
        )
    return flags


def _measure(root: _Element) -> tuple[list[_Element], dict[_Element, _Stats]]:
    """Stats for every element; non-content and hidden subtrees count as empty.

    Parents come before their children in ``iter()``, so an element whose parent has no stats
    is inside a dropped subtree. This walk is a page's largest cost after language detection,
    so names and their flags are memoised and what the later passes need (parent, inline tag)
    is kept, not asked of lxml again."""
    order: list[_Element] = []
    stats: dict[_Element, _Stats] = {}
    first = True
    for el in root.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if first:
            parent_stats = None
            first = False
        else:
            parent_stats = stats.get(el.getparent())
            if parent_stats is None:  # in a non-content or hidden subtree
                continue
        if tag in _NON_CONTENT:
            continue
        st = _Stats(parent_stats, tag in _INLINE)
        st.hint = hint = _hint(el)
        if tag in _CHROME:
            st.skip = True
        elif hint and tag not in ("html", "body", "article", "main"):
            st.skip, st.comments = _hint_flags(hint)
        if _hidden(el):
            # Hidden until a script shows it: menus and modals mostly, but some templates hide
            # the whole article until a paywall or consent script reveals it. Evidence, not a
            # verdict: it does not vote, unless it holds most of the page's text or reads like
            # an article (below, where its descendants inherit what is decided for it).
            st.hidden = st.skip = True
        stats[el] = st
        order.append(el)
    comma_re = _COMMA_RE
    for el in reversed(order):
        st = stats[el]
        own = el.text
        if own:
            n = len(own.strip())
            if n:
                st.inline += n
                st.total += n
                st.commas += len(comma_re.findall(own))
        for child in el:
            tail = child.tail
            if tail:
                n = len(tail.strip())
                st.inline += n
                st.total += n
                st.commas += len(comma_re.findall(tail))
            child_stats = stats.get(child)
            if child_stats is None:
                continue
            st.total += child_stats.total
            st.link += child_stats.link
            st.prose += child_stats.prose
            if child_stats.is_inline:
                st.inline += child_stats.total
                st.inline_link += child_stats.link
                st.commas += child_stats.commas
        if el.tag == "a":
            st.link = st.total
            st.inline_link = st.inline
        elif not st.is_inline and st.inline >= _PROSE_RUN and st.inline_link * 4 < st.inline:
            st.prose += 1
    # A name like "header-style-2" on the wrapper of the whole page says nothing: an unlikely
    # name (or hiding) only silences a block that holds a minor part of the page's text
    # (comments always).
    limit = stats[order[0]].total * _UNLIKELY_SHARE if order else 0
    for el in order:
        st = stats[el]
        parent = st.parent
        if parent is not None and parent.comments:
            st.comments = True
        if st.skip and not st.comments and (st.total > limit or _reads_like_article(st)):
            st.skip = st.hidden = False
        elif parent is not None and parent.skip:
            st.skip = True
            st.hidden = st.hidden or parent.hidden
    return order, stats


def _link_density(st: _Stats) -> float:
    return st.link / st.total if st.total else 0.0


def _score(order: list[_Element], stats: dict[_Element, _Stats]) -> dict[_Element, float]:
    """Readability's content score of every container that holds a paragraph."""
    scores: dict[_Element, float] = {}
    for el in order:
        st = stats[el]
        tag = el.tag
        if st.skip or tag in _INLINE or st.inline < _MIN_PARAGRAPH:
            continue
        if st.inline_link > st.inline * 0.5:
            continue
        points = 1.0 + st.commas + min(st.inline / 100, 3.0)
        in_list = tag in ("li", "dd", "dt", "th")
        if in_list:
            points *= 0.5  # list items are menus and teasers as often as article text
        anc = el.getparent()
        if tag not in _PARAGRAPH_TAGS and any(
            child.tag not in _INLINE and child in stats for child in el
        ):
            # Text loose among blocks (a div with a title <p> and the story as bare text):
            # the element is that text's container, as if readability wrapped it in <p>.
            anc = el
        elif not in_list:
            st.mass += points
        level = 0
        while anc is not None:
            if level < 5:
                if anc not in scores:
                    scores[anc] = 0.0
                scores[anc] += points / (1 if level == 0 else 2 if level == 1 else level * 3)
            if not in_list:
                stats[anc].mass += points
            level += 1
            anc = anc.getparent()
    return scores


def _final_scores(
    scores: dict[_Element, float], stats: dict[_Element, _Stats]
) -> dict[_Element, float]:
    """Content score damped by link density, scaled (not shifted) by class/id and tag hints.

    Readability adds +-25 for the names; on templates that wrap each paragraph in its own
    "card article" that bonus outweighs the text, so here a name moves the score by a quarter.
    """
    final: dict[_Element, float] = {}
    for el, score in scores.items():
        st = stats.get(el)
        if st is None:
            continue
        factor = 1 + _class_weight(st.hint) / 100
        final[el] = score * (1 - _link_density(st)) * factor * _TAG_FACTOR.get(str(el.tag), 1.0)
    return final


def _another_story(el: _Element) -> bool:
    """Whether ``el`` is (or wraps) an ``<article>`` that opens with a headline of its own: the
    next story of an endless-scroll page or a teaser, not a part of the first one."""
    for art in el.iter("article"):
        first = next((c for c in art.iter() if c.tag in _HEADINGS or c.tag == "p"), None)
        if first is not None and first.tag in _HEADINGS:
            return True
    return False


def _top_candidate(
    final: dict[_Element, float],
    stats: dict[_Element, _Stats],
    drops: set[_Element],
    single_story: bool = True,
) -> _Element:
    """The article container; siblings it absorbed but that are not article go to ``drops``.

    ``single_story``: the page holds one story (not a live blog), so once the container is an
    ``<article>`` another ``<article>`` with its own headline does not join it."""
    top = max(final, key=final.__getitem__)
    # A parent scoring higher than its best child holds the article split in several blocks.
    last = final[top]
    threshold = last / 3
    parent = top.getparent()
    while parent is not None and parent.tag not in ("body", "html"):
        score = final.get(parent)
        if score is None:
            parent = parent.getparent()
            continue
        if score < threshold:
            break
        if score > last:
            top = parent
            break
        last = score
        parent = parent.getparent()
    # An article cut in sections (by pictures, ads, "version 2" wrappers) scores in pieces:
    # go up while the parent adds paragraphs worth a good share of what we have.
    # Frames that add no paragraph are looked through. Siblings whose paragraphs look like
    # teasers (named as add-ons, link-heavy) neither justify the step nor come along.
    probe = top
    in_article = any(a.tag == "article" for a in top.iterancestors()) or top.tag == "article"
    while (parent := probe.getparent()) is not None and parent.tag not in ("body", "html"):
        good = 0.0
        bad: list[_Element] = []
        for sib in parent:
            st = stats.get(sib)
            if sib is probe or st is None or st.mass == 0:
                continue
            if (
                st.skip
                or _class_weight(st.hint) < 0
                or _link_density(st) > _TEASER_LINKS
                or (single_story and in_article and _another_story(sib))
            ):
                bad.append(sib)
            elif st.mass >= _PIECE_SHARE * stats[top].mass or st.inline >= _MIN_PARAGRAPH:
                good += st.mass  # a paragraph or a piece of the article, not a byline
        if good >= _EXPAND_SHARE * stats[top].mass:
            top = probe = parent
            drops.update(bad)
        elif good or bad:
            break
        else:
            probe = parent
    # The only child of its parent: the parent is the same container with its frame.
    while (
        (parent := top.getparent()) is not None
        and parent.tag not in ("body", "html")
        and len(parent) == 1
    ):
        top = parent
    return top


def _siblings(
    top: _Element, final: dict[_Element, float], stats: dict[_Element, _Stats]
) -> list[_Element]:
    """The top container plus the siblings that continue the article (readability's rule)."""
    parent = top.getparent()
    if parent is None:
        return [top]
    top_score = final.get(top, 0.0)
    threshold = max(10.0, top_score * 0.2)
    top_class = top.attrib.get("class", "")
    chosen: list[_Element] = []
    for sib in parent:
        if not isinstance(sib.tag, str) or sib not in stats:
            continue
        if sib is top:
            chosen.append(sib)
            continue
        st = stats[sib]
        if st.skip:
            continue
        bonus = top_score * 0.2 if top_class and sib.attrib.get("class", "") == top_class else 0.0
        if final.get(sib, 0.0) + bonus >= threshold:
            chosen.append(sib)
        elif sib.tag == "p":
            density = _link_density(st)
            text = sib.text_content().strip()
            if (st.total > 80 and density < 0.25) or (
                0 < st.total <= 80 and density == 0 and text.endswith((".", "!", "?", "。"))
            ):
                chosen.append(sib)
    return chosen


def _reads_like_article(st: _Stats) -> bool:
    """Several real paragraphs with few links: what a boilerplate block's name cannot outvote.

    A "share-bar" or "newsletter" box has a line or two; "related" teasers are link-heavy; a
    section named "sharing-with-developers" or a wrapper named "read-more-content" holding
    the story has paragraphs of prose.
    """
    return (
        st.prose >= _ARTICLE_PROSE
        and st.total >= _ARTICLE_CHARS
        and _link_density(st) < _ARTICLE_LINKS
    )


_SLUG_RE = re.compile(r"\W+")


def _is_heading_slug(el: _Element) -> bool:
    """Whether the element's id is its first heading's text as a slug ("sharing-with-a-team"
    for "Sharing with a team"): an anchor written by a docs or CMS generator, not a name that
    says what the block is."""
    ident = el.get("id")
    if not ident or ("-" not in ident and "_" not in ident):
        return False
    heading = next(el.iter("h1", "h2", "h3", "h4", "h5", "h6"), None)
    if heading is None:
        return False
    slug = _SLUG_RE.sub("-", heading.text_content().lower()).strip("-")
    return bool(slug) and _SLUG_RE.sub("-", ident.lower()).strip("-") in slug


def _should_drop(el: _Element, st: _Stats, scores: dict[_Element, float], whole: int) -> bool:
    """Readability's conditional cleaning plus trafilatura-style name-based discards.

    Names and hiding are evidence, not verdicts: they never remove most of the container's
    text (``whole``: wrappers are named "widget" or "tools" too), nor a block that reads like
    article text. Comment sections, which read like prose, go by their name whatever they hold.
    """
    tag = el.tag
    hint = _hint(el)
    if hint and _is_heading_slug(el):
        hint = " ".join(_WORD_RE.findall(el.get("class", ""))).lower()
    small = st.total * 2 < whole
    if st.hidden and small and not _reads_like_article(st):
        return True
    if (
        hint
        and _DISCARD_RE.search(hint)
        and not _KEEP_RE.search(hint)
        and (
            (_COMMENTS_RE.search(hint) and not _KEEP_RE.search(hint))
            or (small and not _reads_like_article(st))
        )
    ):
        return True
    if tag in _CHROME:
        return True
    if tag not in ("div", "section", "ul", "ol", "table", "dl", "aside", "header", "form"):
        return False
    weight = _class_weight(hint)
    if weight + scores.get(el, 0.0) < 0:
        return True
    if st.commas >= 10:
        return False
    density = _link_density(st)
    if weight < 25 and density > 0.2 and st.total < 200:
        return True
    if weight >= 25 and density > 0.5:
        return True
    return density > 0.5 and tag in ("ul", "ol", "dl")


def _pruned_copy(
    kept: list[_Element],
    stats: dict[_Element, _Stats],
    scores: dict[_Element, float],
    drops: set[_Element],
) -> lxml.html.HtmlElement:
    """A detached div holding copies of ``kept``, boilerplate blocks dropped."""
    wrapper: lxml.html.HtmlElement = lxml.html.Element("div")
    for orig in kept:
        dup = deepcopy(orig)
        dup.tail = None
        removed: list[_Element] = []
        for src, dst in zip(orig.iter(), dup.iter(), strict=True):
            if not isinstance(src.tag, str):
                continue
            st = stats.get(src)
            if st is None:
                if src.getparent() in stats:
                    removed.append(dst)
                continue
            if src is not orig and (
                src in drops or _should_drop(src, st, scores, stats[orig].total)
            ):
                removed.append(dst)
        for dst in removed:
            if dst.getparent() is not None:
                dst.drop_tree()
        if dup.tag not in ("p", "div", "section", "article", "main", "td", "pre", "blockquote"):
            dup.tag = "div"
        for attr in ("class", "id"):
            dup.attrib.pop(attr, None)
        wrapper.append(dup)
    return wrapper


@dataclass(frozen=True)
class MainContent:
    """The chosen article container and how much of the page's prose it holds: the signals
    that tell the extractor whether to trust it (see ``ingest.extract``)."""

    element: lxml.html.HtmlElement  # a pruned, detached copy
    chars: int  # text characters in the copy
    page_chars: int  # characters of the page's paragraphs of prose in blocks that vote
    all_prose: int  # ... in any block but comments (hidden and boilerplate-named ones too)


def main_content(root: lxml.html.HtmlElement, *, single_story: bool = True) -> MainContent | None:
    """The page's article container with its measures, or None when no paragraph has text.

    ``single_story``: False for a live blog, whose updates are ``<article>``s of their own."""
    order, stats = _measure(root)
    scores = _score(order, stats)
    if not scores:
        return None
    final = _final_scores(scores, stats)
    drops: set[_Element] = set()
    top = _top_candidate(final, stats, drops, single_story)
    element = _pruned_copy(_siblings(top, final, stats), stats, scores, drops)
    page_chars = all_prose = 0
    for st in stats.values():
        if st.is_inline or st.inline < _PROSE_RUN or st.inline_link * 4 >= st.inline:
            continue
        if not st.comments:
            all_prose += st.inline
            if not st.skip:
                page_chars += st.inline
    chars = len(" ".join(element.text_content().split()))
    return MainContent(element=element, chars=chars, page_chars=page_chars, all_prose=all_prose)


def find_main_content(root: lxml.html.HtmlElement) -> lxml.html.HtmlElement | None:
    """A pruned copy of the page's article container, or None when no paragraph has text."""
    found = main_content(root)
    return found.element if found is not None else None


_TOKEN_RE = re.compile(r"\w+")


def word_coverage(fragment: _Element, text: str) -> float:
    """Share of ``text``'s words (with repeats) that the fragment's text also has."""
    want = Counter(_TOKEN_RE.findall(text.lower()))
    if not want:
        return 0.0
    have = Counter(_TOKEN_RE.findall(fragment.text_content().lower()))
    return sum((want & have).values()) / sum(want.values())
