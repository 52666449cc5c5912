"""Morphology-aware search: the analysis of text into index terms, the ``articles_search``
index our storage code writes, query rewriting for it and snippets in the article's own words.

Why this shape: FTS5's built-in tokenizers match only the form typed, and a custom
tokenizer would make the file unreadable without our code. So our code analyses the text and
stores the result in an ordinary FTS5 table (``unicode61``): one analysed term per word of the
article, in the same order, so phrases, ``NEAR`` and ``^`` keep their meaning, and a term's
position is the position of the word the article wrote (snippets are cut from the original).

Analysis by the row's language: Ukrainian and Russian words become their lemma from
simplemma's dictionaries (a pip package, loaded from disk, nothing downloaded), words the
dictionary does not know stay as written (lower case); the languages Snowball covers are
stemmed (PyStemmer); any other language is lower-cased. The ``lang`` column holds the analyser
key; a query is rewritten once per analysis (most give the same terms), the rewrites ORed.
The choice between pymorphy3, simplemma and Snowball was measured:
``benchmarks/search_bench.py``, BENCHMARKS.md.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

SEARCH_TABLE = "articles_search"
# Columns of the index after ``lang`` (the analyser key): the searchable text, as in articles.
TEXT_COLUMNS = ("title", "lead", "body")
# bm25 weights for lang, title, lead, body: the key never scores; the headline counts most.
BM25_WEIGHTS = (0.0, 4.0, 2.0, 1.0)
CREATE_SQL = (
    f"create virtual table {SEARCH_TABLE} using fts5(lang, {', '.join(TEXT_COLUMNS)}, "
    # Our terms are already lower case; keeping diacritics keeps й/и and ї/і apart.
    "tokenize = 'unicode61 remove_diacritics 0')"
)
# A word: letters and digits (no underscore, which unicode61 splits on), with any combining
# marks (stress accents) inside it. Written so the common case is one character class.
WORD = re.compile(r"[^\W_]+(?:[\u0300-\u036f]+[^\W_]*)*")
COMBINING = re.compile(r"[\u0300-\u036f]")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LEMMATISED = ("uk", "ru")  # simplemma dictionaries
# ISO 639-1 -> Snowball algorithm (PyStemmer); Russian is lemmatised instead. Not Serbian: its
# stemmer transliterates Cyrillic to Latin, so "Украина" would find the English "Ukraine".
SNOWBALL = {
    "ar": "arabic", "ca": "catalan", "da": "danish", "de": "german", "el": "greek",
    "en": "english", "es": "spanish", "eu": "basque", "fi": "finnish", "fr": "french",
    "ga": "irish", "hi": "hindi", "hu": "hungarian", "hy": "armenian", "id": "indonesian",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "nl": "dutch", "no": "norwegian",
    "nb": "norwegian", "pt": "portuguese", "ro": "romanian", "sv": "swedish", "ta": "tamil",
    "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
OTHER = "xx"  # rows in any other language, or none: words lower-cased
KEYS = (*LEMMATISED, *sorted(set(SNOWBALL) - {"nb"}), OTHER)
# Index rows per INSERT statement: one statement per batch, not per row (FTS5 flushes its
# pending terms at each statement's savepoint; see pipelines/storage.py).
INSERT_CHUNK = 200
REINDEX_BATCH = 500


def analyser_key(lang: str | None) -> str:
    """The analysis a row in ``lang`` gets: ``uk``, ``ru``, a Snowball language, or ``xx``."""
    code = (lang or "").lower().split("-")[0]
    if code in LEMMATISED:
        return code
    if code == "nb":
        return "no"
    return code if code in SNOWBALL else OTHER


class Analysers:
    """Word -> index term, per analyser key, with a cache per key (news repeats its words).
    Dictionaries and stemmers are loaded on first use: a query in Latin letters never loads
    the Cyrillic dictionaries."""

    def __init__(self) -> None:
        self.cache: dict[str, dict[str, str]] = {key: {} for key in KEYS}
        self.lemmas: dict[str, Callable[[str], str | None]] = {}
        self.stemmers: dict[str, Any] = {}

    def lemma_dictionary(self, key: str) -> Callable[[str], str | None]:
        """Word -> lemma from simplemma's dictionary for ``key`` (None when unknown)."""
        if key not in self.lemmas:
            from simplemma.strategies.dictionaries.dictionary_factory import (
                DefaultDictionaryFactory,
            )

            mapping = DefaultDictionaryFactory().get_dictionary(key)
            raw = getattr(mapping, "_dict", None)
            if isinstance(raw, dict):  # its bytes -> bytes store: half the cost per word
                get = raw.get

                def lookup(word: str) -> str | None:
                    found = get(word.encode())
                    return None if found is None else str(found.decode())

                self.lemmas[key] = lookup
            else:
                self.lemmas[key] = mapping.get
        found: Callable[[str], str | None] = self.lemmas[key]
        return found

    def stemmer(self, key: str) -> Any:
        if key not in self.stemmers:
            import Stemmer  # type: ignore[import-not-found]  # PyStemmer, no stubs

            self.stemmers[key] = Stemmer.Stemmer(SNOWBALL[key])
        return self.stemmers[key]

    def term(self, word: str, key: str) -> str:
        """The index term of one word (as ``WORD`` finds it) for analyser ``key``."""
        cache = self.cache[key]
        found = cache.get(word)
        if found is None:
            found = cache[word] = self._analyse(word, key)
        return found

    def _analyse(self, word: str, key: str) -> str:
        if COMBINING.search(word):
            word = COMBINING.sub("", word)
        lower = word.lower()
        if key == OTHER or lower.isdigit():
            return lower
        if key in LEMMATISED:
            if key == "ru":
                word, lower = word.replace("ё", "е"), lower.replace("ё", "е")
            if not CYRILLIC.search(lower):
                return lower
            lookup = self.lemma_dictionary(key)
            # simplemma keys proper names capitalised (Києві -> Київ, Ради -> Рада) and the
            # rest in lower case: a capitalised word is looked up as written first.
            lemma = (word[:1].isupper() and lookup(word)) or None
            lemma = lemma or lookup(lower) or lookup(lower.capitalize())
            if lemma is None:
                return lower
            lemma = lemma.lower()
            if key == "ru":
                lemma = lemma.replace("ё", "е")
            return lemma if WORD.fullmatch(lemma) else _one_word(lemma) or lower
        return str(self.stemmer(key).stemWord(lower))

    def text(self, text: str | None, key: str) -> str:
        """``text`` as index terms, one per word, in order, separated by spaces."""
        if not text:
            return ""
        cache = self.cache[key]
        words = WORD.findall(text)
        terms = list(map(cache.get, words))  # the cache answers most words, at C speed
        if None in terms:
            analyse = self._analyse
            for word in {w for w, t in zip(words, terms, strict=True) if t is None}:
                cache[word] = analyse(word, key)
            terms = list(map(cache.__getitem__, words))
        return " ".join(terms)  # type: ignore[arg-type]


def _one_word(term: str) -> str:
    """A lemma as one index word: what ``WORD`` would not keep together is dropped
    (``1930-й`` -> ``1930й``), so index terms stay aligned with the article's words."""
    return "".join(WORD.findall(term))


ANALYSERS = Analysers()


def index_values(
    row: dict[str, Any], analysers: Analysers = ANALYSERS
) -> tuple[str, str, str, str]:
    """The ``articles_search`` values (key, title, lead, body) of one ``articles`` row."""
    key = analyser_key(row.get("lang"))
    title, lead, body = (analysers.text(row.get(c), key) for c in TEXT_COLUMNS)
    return key, title, lead, body


_SELECT_FOR_INDEX = (
    "select rowid, lang, title, lead, body from articles "
    "where url in (select value from json_each(?))"
)


def index_articles(conn: sqlite3.Connection, urls: Sequence[str]) -> int:
    """(Re-)index the stored articles ``urls`` (in the caller's transaction); rows indexed."""
    if not urls:
        return 0
    rows = conn.execute(_SELECT_FOR_INDEX, [json.dumps(list(urls))]).fetchall()
    write_index_rows(conn, rows)
    return len(rows)


def write_index_rows(conn: sqlite3.Connection, rows: Sequence[Sequence[Any]]) -> None:
    """Replace the index rows of ``rows`` (rowid, lang, title, lead, body of articles)."""
    conn.execute(
        f"delete from {SEARCH_TABLE} where rowid in (select value from json_each(?))",  # noqa: S608
        [json.dumps([r[0] for r in rows])],
    )
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start : start + INSERT_CHUNK]
        values: list[Any] = []
        for rowid, lang, title, lead, body in chunk:
            values.append(rowid)
            values.extend(index_values({"lang": lang, "title": title, "lead": lead, "body": body}))
        placeholders = ", ".join(["(?, ?, ?, ?, ?)"] * len(chunk))
        conn.execute(
            f"insert into {SEARCH_TABLE} (rowid, lang, {', '.join(TEXT_COLUMNS)}) "  # noqa: S608
            f"values {placeholders}",
            values,
        )


def create_index(conn: sqlite3.Connection) -> None:
    """The empty ``articles_search`` table, merging segments like ``articles_fts`` (m005)."""
    conn.execute(CREATE_SQL)
    conn.execute(
        f"insert into {SEARCH_TABLE}({SEARCH_TABLE}, rank) values ('automerge', 16)"  # noqa: S608
    )


def has_index(conn: sqlite3.Connection) -> bool:
    found = conn.execute(
        "select 1 from sqlite_master where type = 'table' and name = ?", [SEARCH_TABLE]
    ).fetchone()
    return found is not None


def index_is_current(conn: sqlite3.Connection) -> bool:
    """The index exists and holds a row per article. Articles written by another tool (plain
    sqlite3, sqlite-utils) are not in it until ``ingest db reindex``; until then searches use
    the exact words of ``articles_fts``, which its triggers keep complete."""
    if not has_index(conn):
        return False
    articles, indexed = conn.execute(
        f"select (select count(*) from articles), (select count(*) from {SEARCH_TABLE}_docsize)"  # noqa: S608
    ).fetchone()
    return bool(articles == indexed)


def rebuild_index(conn: sqlite3.Connection, progress: TextIO | None = None) -> int:
    """Index every stored article anew (in the caller's transaction); the count. Reads
    ``articles`` only: nothing stored is changed. With ``progress`` a terminal line is redrawn
    as it goes."""
    conn.execute(f"delete from {SEARCH_TABLE}")  # noqa: S608
    total = conn.execute("select count(*) from articles").fetchone()[0]
    done, last = 0, -1
    cursor = conn.execute("select rowid, lang, title, lead, body from articles order by rowid")
    while batch := cursor.fetchmany(REINDEX_BATCH):
        write_index_rows(conn, batch)
        done += len(batch)
        if progress is not None and (percent := done * 100 // max(total, 1)) != last:
            last = percent
            progress.write(f"\rsearch index: {done:,}/{total:,} articles ({percent}%)\x1b[K")
            progress.flush()
    if progress is not None:
        progress.write("\n")
    conn.execute(f"insert into {SEARCH_TABLE}({SEARCH_TABLE}) values ('optimize')")  # noqa: S608
    return int(done)


def terminal_progress() -> TextIO | None:
    """stderr when it is a terminal (a migration's progress), else None."""
    return sys.stderr if sys.stderr.isatty() else None


# ---- queries ---------------------------------------------------------------------------------

_OPERATORS = frozenset({"AND", "OR", "NOT"})
_BAREWORD = re.compile(r"[\w\x1a]+|[^\x00-\x7f]+")


@dataclass
class _Token:
    kind: str  # "term" (bareword or string), "op" (anything kept verbatim)
    text: str
    phrase: bool = False  # a quoted string


@dataclass
class Rewritten:
    """An FTS5 query for ``articles_search``, or ``exact`` when it must run on the exact-word
    index (it has a prefix query, whose words match as written)."""

    match: str = ""
    exact: bool = False
    terms: dict[str, set[str]] = field(default_factory=dict)  # key -> index terms asked for


def _lex_raw(query: str) -> list[_Token]:
    """FTS5 query syntax as tokens: strings and barewords are terms; operators, ``NEAR(``,
    column names (before ``:`` or in ``{}``), punctuation and spaces are kept verbatim."""
    tokens: list[_Token] = []
    i, n, in_braces = 0, len(query), False
    while i < n:
        ch = query[i]
        if ch == '"':
            j, text = i + 1, []
            while j < n:
                if query[j] == '"':
                    if j + 1 < n and query[j + 1] == '"':
                        text.append('"')
                        j += 2
                        continue
                    break
                text.append(query[j])
                j += 1
            if j >= n:  # unterminated: kept as it is, for FTS5 to report the syntax error
                tokens.append(_Token("op", query[i:]))
                break
            tokens.append(_Token("term", "".join(text), phrase=True))
            i = j + 1
            continue
        bare = _BAREWORD.match(query, i)
        if bare is None:
            in_braces = {"{": True, "}": False}.get(ch, in_braces)
            tokens.append(_Token("op", ch))
            i += 1
            continue
        word, i = bare.group(), bare.end()
        rest = query[i:].lstrip()
        before = "".join(t.text for t in tokens).rstrip()
        verbatim = (
            in_braces  # {title lead}: column names
            or rest.startswith(":")  # title : ...
            or word in _OPERATORS
            or (word == "NEAR" and rest.startswith("("))
            or (word.isdigit() and before.endswith(","))  # NEAR(a b, 10): the distance
        )
        tokens.append(_Token("op" if verbatim else "term", word))
    return tokens


def _lex_plain(query: str) -> list[_Token]:
    """Plain words, each a term; text in double quotes is one phrase. No syntax at all."""
    tokens: list[_Token] = []
    for n, part in enumerate(query.split('"')):
        if n % 2:
            tokens.append(_Token("term", part, phrase=True))
        else:
            tokens.extend(_Token("term", word) for word in WORD.findall(part))
    return tokens


def _has_prefix(tokens: list[_Token]) -> bool:
    return any(
        t.kind == "term" and nxt.kind == "op" and nxt.text == "*"
        for t, nxt in itertools.pairwise(tokens)
    )


def rewrite(
    query: str,
    *,
    raw: bool = False,
    keys: Iterable[str] = KEYS,
    analysers: Analysers = ANALYSERS,
) -> Rewritten:
    """The user's query for ``articles_search``: each term analysed once per analyser key and
    matched only in the rows of that key; FTS5 syntax (``--raw``) kept around the terms."""
    tokens = _lex_raw(query) if raw else _lex_plain(query)
    if raw and _has_prefix(tokens):
        return Rewritten(exact=True)
    groups: dict[str, list[str]] = {}  # rewritten query -> keys giving it
    terms: dict[str, set[str]] = {}
    for key in dict.fromkeys(keys):
        parts: list[str] = []
        asked: set[str] = set()
        for token in tokens:
            if token.kind == "op":
                parts.append(token.text)
                continue
            words = [analysers.term(w, key) for w in WORD.findall(token.text)]
            asked.update(words)
            # A term with no word in it (punctuation only) matches nothing, as in FTS5.
            parts.append('"' + " ".join(words) + '"')
        if not raw:
            parts = [" ".join(parts)]
        groups.setdefault("".join(parts), []).append(key)
        terms[key] = asked
    if not groups or not any(terms.values()):
        return Rewritten(match='""', terms=terms)
    # Each analysis's rewrite, ORed; no filter on the ``lang`` column: intersecting with the
    # doclist of every row of a language cost more than the whole search (p95 x2.3 on 100,000
    # articles), and a row only holds the terms its own analysis made. --lang filters rows.
    text_columns = "{" + " ".join(TEXT_COLUMNS) + "}"
    clauses = [f"{text_columns} : ({rewritten})" for rewritten in groups]
    return Rewritten(match=" OR ".join(clauses), terms=terms)


def keys_for(langs: Iterable[str]) -> list[str]:
    """The analyser keys of the languages a search is limited to (all keys when none)."""
    chosen = list(dict.fromkeys(analyser_key(lang) for lang in langs))
    return chosen or list(KEYS)


# ---- snippets --------------------------------------------------------------------------------

MARK_START, MARK_END = "\x02", "\x03"
SNIPPET_WORDS = 16


def highlight_sql(alias: str = SEARCH_TABLE) -> str:
    """Select-list text: the highlighted index columns, aliased ``_hl_title`` and so on."""
    return ", ".join(
        f"highlight({alias}, {n}, char(2), char(3)) as _hl_{column}"
        for n, column in enumerate(TEXT_COLUMNS, start=1)
    )


def _marked_words(highlighted: str) -> list[bool]:
    """For each word of a highlighted index column, whether FTS5 marked it as a match."""
    marked: list[bool] = []
    inside = False
    for piece in re.split(f"([{MARK_START}{MARK_END}])", highlighted):
        if piece == MARK_START:
            inside = True
        elif piece == MARK_END:
            inside = False
        else:
            marked.extend([inside] * len(WORD.findall(piece)))
    return marked


def snippet(
    original: str | None,
    highlighted: str | None,
    *,
    words: int = SNIPPET_WORDS,
    mark: tuple[str, str] = ("[", "]"),
    ellipsis: str = "…",
    escape: Callable[[str], str] = str,
) -> tuple[str, int]:
    """The ``words``-word window of ``original`` holding the most matches, matched words
    wrapped in ``mark``, and how many matches it holds. The matches come from FTS5's
    ``highlight()`` of the index column: its n-th term is the article's n-th word."""
    if not original:
        return "", 0
    spans = [m.span() for m in WORD.finditer(original)]
    marked = _marked_words(highlighted or "")
    if len(marked) != len(spans):  # not aligned (text changed since indexing): no marks
        marked = [False] * len(spans)
    best_start, best_count = 0, -1
    count = sum(marked[:words])
    for start in range(max(len(spans) - words + 1, 1)):
        if start:
            count += (marked[start + words - 1] if start + words - 1 < len(marked) else 0) - (
                marked[start - 1]
            )
        if count > best_count:
            best_start, best_count = start, count
    end = min(best_start + words, len(spans))
    if not spans:
        return escape(original[:200]), 0
    out: list[str] = [ellipsis if best_start > 0 else ""]
    position = spans[best_start][0] if best_start > 0 else 0
    for index in range(best_start, end):
        a, b = spans[index]
        out.append(escape(original[position:a]))
        word = escape(original[a:b])
        out.append(f"{mark[0]}{word}{mark[1]}" if marked[index] else word)
        position = b
    if end < len(spans):
        out.append(ellipsis)
    else:
        out.append(escape(original[position:]))
    return "".join(out).strip(), max(best_count, 0)


def best_snippet(row: dict[str, Any], **options: Any) -> str:
    """The snippet of the column (title, lead, body) with the most matches in one window;
    the body on a tie, as FTS5's own ``snippet`` prefers text with more context."""
    best, best_count = "", -1
    for column in reversed(TEXT_COLUMNS):
        text, count = snippet(row.get(column), row.get(f"_hl_{column}"), **options)
        if count > best_count and text:
            best, best_count = text, count
    return best


def pop_highlights(row: dict[str, Any]) -> None:
    """Remove the ``_hl_*`` helper columns from a row (after the snippet is made)."""
    for column in TEXT_COLUMNS:
        row.pop(f"_hl_{column}", None)
