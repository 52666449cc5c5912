"""Search quality and cost (issue 12): recall and precision of single-noun and phrase queries on
a labelled uk/ru dev set, before (exact words, ``articles_fts``) and after (``articles_search``),
the candidate analysers side by side, indexing CPU per article, and search p95 on N articles.

Dev set: the uk and ru sentences of ../shared/data/langid (Leipzig, Tatoeba) and the demo's
stories. Queries are nouns in dictionary form; a document is relevant when it holds one of the
forms listed by hand below (every case and number, suppletive plurals included), whatever any
analyser says. Phrase queries list the agreeing adjective + noun forms.

    .venv/bin/python benchmarks/search_bench.py                 # quality + indexing cost
    .venv/bin/python benchmarks/search_bench.py --articles 100000   # + search p95
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.query import Filters, search_rows  # noqa: E402
from ingest.store import search_index  # noqa: E402
from ingest.store.db import open_db  # noqa: E402

LANGID = ROOT.parent / "shared" / "data" / "langid"
STORIES = ROOT / "ingest" / "mirror"

# Query (dictionary form) -> every form that makes a document relevant, written by hand.
NOUNS: dict[str, dict[str, str]] = {
    "uk": {
        "україна": "україна україни україні україну україною україно",
        "робота": "робота роботи роботі роботу роботою робото робіт роботам роботами роботах",
        "частина": "частина частини частині частину частиною частин частинам частинами частинах",
        "людина": "людина людини людині людину людиною люди людей людям людьми людях",
        "країна": "країна країни країні країну країною країн країнам країнами країнах",
        "міністерство": "міністерство міністерства міністерству міністерством міністерстві "
        "міністерств міністерствам міністерствами міністерствах",
        "тиждень": "тиждень тижня тижню тижнем тижні тижнів тижням тижнями тижнях",
        "питання": "питання питанню питанням питанні питань питаннями питаннях",
        "область": "область області областю областей областям областями областях",
        "школа": "школа школи школі школу школою шкіл школам школами школах",
        "компанія": "компанія компанії компанію компанією компаній компаніям компаніями компаніях",
        "система": "система системи системі систему системою систем системам системами системах",
        "червень": "червень червня червню червнем червні",
        "тисяча": "тисяча тисячі тисячу тисячею тисяч тисячам тисячами тисячах",
        "програма": "програма програми програмі програму програмою програм програмам "
        "програмами програмах",
        "допомога": "допомога допомоги допомозі допомогу допомогою",
        "кінець": "кінець кінця кінцю кінцем кінці кінців кінцям кінцями кінцях",
        "центр": "центр центру центра центрові центром центрі центри центрів центрам центрами "
        "центрах",
        "кордон": "кордон кордону кордонові кордоном кордоні кордони кордонів кордонам "
        "кордонами кордонах",
        "лікарня": "лікарня лікарні лікарню лікарнею лікарень лікарням лікарнями лікарнях",
        "удар": "удар удару удара ударові ударом ударі удари ударів ударам ударами ударах",
        "регіон": "регіон регіону регіонові регіоном регіоні регіони регіонів регіонам "
        "регіонами регіонах",
        "війна": "війна війни війні війну війною війн війнам війнами війнах",
        "сезон": "сезон сезону сезонові сезоном сезоні сезони сезонів сезонам сезонами сезонах",
        "трамп": "трамп трампа трампу трампові трампом трампі",
        "зеленський": "зеленський зеленського зеленському зеленським зеленськім",
        "місто": "місто міста місту містові містом місті міст містам містами містах",
    },
    "ru": {
        "украина": "украина украины украине украину украиной украиною",
        "время": "время времени временем времена времен временам временами временах",
        "часть": "часть части частью частей частям частями частях",
        "человек": "человек человека человеку человеком человеке люди людей людям людьми людях",
        "страна": "страна страны стране страну страной страною стран странам странами странах",
        "работа": "работа работы работе работу работой работою работ работам работами работах",
        "министерство": "министерство министерства министерству министерством министерстве "
        "министерств министерствам министерствами министерствах",
        "день": "день дня дню днем дне дни дней дням днями днях",
        "неделя": "неделя недели неделе неделю неделей неделею недель неделям неделями неделях",
        "совет": "совет совета совету советом совете советы советов советам советами советах",
        "помощь": "помощь помощи помощью",
        "конец": "конец конца концу концом конце концы концов концам концами концах",
        "ночь": "ночь ночи ночью ночей ночам ночами ночах",
        "удар": "удар удара удару ударом ударе удары ударов ударам ударами ударах",
        "место": "место места месту местом месте мест местам местами местах",
        "ребенок": "ребенок ребенка ребенку ребенком ребенке дети детей детям детьми детях",
        "компания": "компания компании компанию компанией компаний компаниям компаниями компаниях",
        "система": "система системы системе систему системой систем системам системами системах",
        "вопрос": "вопрос вопроса вопросу вопросом вопросе вопросы вопросов вопросам вопросами "
        "вопросах",
        "больница": "больница больницы больнице больницу больницей больниц больницам "
        "больницами больницах",
        "уровень": "уровень уровня уровню уровнем уровне уровни уровней уровням уровнями уровнях",
        "область": "область области областью областей областям областями областях",
        "регион": "регион региона региону регионом регионе регионы регионов регионам регионами "
        "регионах",
        "вода": "вода воды воде воду водой водою вод водам водами водах",
        "город": "город города городу городом городе городов городам городами городах",
        "трамп": "трамп трампа трампу трампом трампе",
        "зеленский": "зеленский зеленского зеленскому зеленским зеленском",
    },
}
# Phrase query -> the agreeing forms of the phrase.
PHRASES: dict[str, dict[str, list[str]]] = {
    "uk": {
        "Верховна Рада": ["верховна рада", "верховної ради", "верховній раді", "верховну раду",
                          "верховною радою"],
        "протиповітряна оборона": ["протиповітряна оборона", "протиповітряної оборони",
                                   "протиповітряній обороні", "протиповітряну оборону",
                                   "протиповітряною обороною"],
        "Європейський союз": ["європейський союз", "європейського союзу",
                              "європейському союзу", "європейським союзом",
                              "європейському союзі"],
    },
    "ru": {
        "Верховная Рада": ["верховная рада", "верховной рады", "верховной раде",
                           "верховную раду", "верховной радой"],
        "противовоздушная оборона": ["противовоздушная оборона", "противовоздушной обороны",
                                     "противовоздушной обороне", "противовоздушную оборону",
                                     "противовоздушной обороной"],
        "Европейский союз": ["европейский союз", "европейского союза", "европейскому союзу",
                             "европейским союзом", "европейском союзе"],
    },
}  # fmt: skip


def dev_documents() -> dict[str, list[dict[str, str]]]:
    """uk and ru documents: Leipzig sentences, Tatoeba pairs, the demo stories' versions."""
    docs: dict[str, list[dict[str, str]]] = {"uk": [], "ru": []}
    with (LANGID / "leipzig_sentences_dev.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["lang"] in docs:
                docs[row["lang"]].append({"title": "", "lead": "", "body": row["text"]})
    with (LANGID / "tatoeba_rus_ukr_parallel_dev.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            for lang in docs:
                docs[lang].append({"title": "", "lead": "", "body": row[lang]})
    for path in sorted(STORIES.glob("*_stories/*.json")):
        story = json.loads(path.read_text(encoding="utf-8"))
        for lang, version in story.get("versions", {}).items():
            if lang in docs:
                body = [p for p in version["body"] if isinstance(p, str)]
                docs[lang].append(
                    {"title": version["title"], "lead": version.get("lead", ""),
                     "body": "\n\n".join(body)}
                )  # fmt: skip
    return docs


def _words(text: str) -> list[str]:
    return [w.lower().replace("ё", "е") for w in search_index.WORD.findall(text)]


def relevant(doc: dict[str, str], forms: list[str]) -> bool:
    """Does the document hold one of ``forms`` (a word, or words in sequence)?"""
    text = " " + " ".join(_words(" ".join(doc.values()))) + " "
    return any(f" {form} " in text for form in forms)


def build_db(path: Path, docs: dict[str, list[dict[str, str]]]) -> sqlite3.Connection:
    """Our schema with the dev documents stored as articles and indexed as storage does."""
    db = open_db(path)
    rows = [
        {"url": f"dev:{lang}:{n}", "site": "dev", "lang": lang, "fetched_at": "2025-01-01",
         "published": "2025-01-01T00:00:00Z", **doc}
        for lang, lang_docs in docs.items() for n, doc in enumerate(lang_docs)
    ]  # fmt: skip
    db.table("articles").insert_all(rows)
    search_index.index_articles(db.conn, [r["url"] for r in rows])
    db.conn.commit()
    return db.conn


Searcher = Callable[[str, str, bool], set[str]]


def score(docs: dict[str, list[dict[str, str]]], search: Searcher) -> dict[str, dict[str, Any]]:
    """Micro-averaged recall and precision per language, single nouns and phrases apart."""
    out: dict[str, dict[str, Any]] = {}
    for lang, lang_docs in docs.items():
        for kind, queries in (
            ("nouns", {q: f.split() for q, f in NOUNS[lang].items()}),
            ("phrases", {f'"{q}"': f for q, f in PHRASES[lang].items()}),
        ):
            tp = fp = fn = 0
            misses: list[str] = []
            asked = 0
            for query, forms in queries.items():
                gold = {f"dev:{lang}:{n}" for n, d in enumerate(lang_docs) if relevant(d, forms)}
                if not gold:
                    continue
                asked += 1
                found = search(query, lang, kind == "phrases")
                tp += len(found & gold)
                fp += len(found - gold)
                fn += len(gold - found)
                if gold - found or found - gold:
                    misses.append(f"{query} -{len(gold - found)} +{len(found - gold)}")
            out[f"{lang} {kind}"] = {
                "queries": asked,
                "relevant": tp + fn,
                "recall": tp / max(tp + fn, 1),
                "precision": tp / max(tp + fp, 1),
                "misses": misses,
            }
    return out


def exact_searcher(conn: sqlite3.Connection) -> Searcher:
    def search(query: str, lang: str, phrase: bool) -> set[str]:
        rows = conn.execute(
            "select a.url from articles_fts join articles a on a.rowid = articles_fts.rowid "
            "where articles_fts match ? and a.lang = ?",
            [query if phrase else f'"{query}"', lang],
        )
        return {r[0] for r in rows}

    return search


def ours_searcher(conn: sqlite3.Connection) -> Searcher:
    from sqlite_utils import Database

    db = Database(conn)

    def search(query: str, lang: str, phrase: bool) -> set[str]:
        rows = search_rows(db, query, filters=Filters(lang=(lang,)), limit=10_000)
        return {r["url"] for r in rows}

    return search


def candidate_searcher(
    docs: dict[str, list[dict[str, str]]], analyse: Callable[[str, str], str]
) -> Searcher:
    """Any word -> term function, matched in Python (single terms and term sequences)."""
    analysed = {
        lang: [" " + " ".join(analyse(w, lang) for w in _words(" ".join(d.values()))) + " "
               for d in lang_docs]
        for lang, lang_docs in docs.items()
    }  # fmt: skip

    def search(query: str, lang: str, phrase: bool) -> set[str]:
        terms = " " + " ".join(analyse(w, lang) for w in _words(query.strip('"'))) + " "
        return {f"dev:{lang}:{n}" for n, text in enumerate(analysed[lang]) if terms in text}

    return search


def candidates() -> dict[str, Callable[[str, str], str]]:
    """The analysers the issue names, each as word -> term. pymorphy3 is not a dependency:
    ``pip install pymorphy3 pymorphy3-dicts-uk pymorphy3-dicts-ru`` to compare it too."""
    import simplemma
    import Stemmer  # type: ignore[import-not-found]

    russian = Stemmer.Stemmer("russian")
    found: dict[str, Callable[[str, str], str]] = {
        "snowball (russian for both)": lambda w, lang: str(russian.stemWord(w)),
        "simplemma (full strategy)": lambda w, lang: simplemma.lemmatize(w, lang=lang).lower(),
        "ours: simplemma dictionary": lambda w, lang: search_index.ANALYSERS.term(w, lang),
    }
    try:
        import pymorphy3
    except ImportError:
        print("(pymorphy3 not installed: not compared)")
        return found
    morph = {lang: pymorphy3.MorphAnalyzer(lang=lang) for lang in ("uk", "ru")}
    found["pymorphy3 (first parse)"] = lambda w, lang: str(morph[lang].parse(w)[0].normal_form)
    return found


def indexing_cost() -> dict[str, Any]:
    """CPU per article of the analysis alone, on distinct uk/ru texts, in a fresh process
    (cold word cache; dictionaries loaded before the clock starts, their load timed apart)."""
    code = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from benchmarks.search_bench import dev_documents
from ingest.store import search_index
docs = dev_documents()
t = time.process_time()
a = search_index.Analysers()
a.lemma_dictionary("uk"); a.lemma_dictionary("ru")
load = time.process_time() - t
out = {"load_s": load}
for lang in ("uk", "ru"):
    # The demo's stories (whole articles) first, then the sentences: each text seen once.
    for kind, texts in (("articles", [d for d in docs[lang] if d["title"]]),
                        ("sentences", [d for d in docs[lang] if not d["title"]])):
        chars = sum(len(" ".join(d.values())) for d in texts)
        t = time.process_time()
        for d in texts:
            search_index.index_values({"lang": lang, **d}, a)
        spent = time.process_time() - t
        out[f"{lang} {kind}"] = {"texts": len(texts), "chars": chars,
                                 "ms_per_text": spent * 1000 / len(texts),
                                 "ms_per_3000_chars": spent * 1000 / chars * 3000}
print(json.dumps(out))
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], capture_output=True, text=True, check=True
    )
    cost: dict[str, Any] = json.loads(result.stdout)
    return cost


def synthetic_db(path: Path, n: int, docs: dict[str, list[dict[str, str]]]) -> None:
    """``n`` articles of 12-sentence bodies drawn from the dev sentences, half uk half ru."""
    rng = random.Random(12)  # noqa: S311  (repeatable sample, not a secret)
    sentences = {
        lang: [s for d in lang_docs for s in re.split(r"(?<=[.!?])\s+", d["body"]) if s]
        for lang, lang_docs in docs.items()
    }
    db = open_db(path)
    batch: list[dict[str, Any]] = []
    for i in range(n):
        lang = "uk" if i % 2 else "ru"
        pool = sentences[lang]
        batch.append(
            {"url": f"bench:{i}", "site": "bench", "lang": lang, "fetched_at": "2025-01-01",
             "published": f"2025-01-01T00:00:{i % 60:02d}Z", "title": rng.choice(pool),
             "lead": rng.choice(pool), "body": " ".join(rng.choices(pool, k=12))}
        )  # fmt: skip
        if len(batch) == 1000:
            with db.atomic():
                db.table("articles").insert_all(batch)
                search_index.index_articles(db.conn, [r["url"] for r in batch])
            batch = []
    db.close()


def search_latency(path: Path, queries: list[str], repeat: int) -> dict[str, float]:
    """p50/p95 ms of ``search_rows`` (top 10, snippets) vs the exact-word FTS5 query."""
    from ingest.query import open_guarded

    db, _ = open_guarded(path)
    ours: list[float] = []
    exact: list[float] = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            list(search_rows(db, q, limit=10))
            ours.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            db.execute(
                "select a.title, snippet(articles_fts, -1, '[', ']', '…', 16), a.url, "
                "bm25(articles_fts, 4.0, 2.0, 1.0) as s from articles_fts join articles a "
                "on a.rowid = articles_fts.rowid where articles_fts match ? "
                "order by s, a.published desc limit 10",
                [f'"{q}"'],
            ).fetchall()
            exact.append((time.perf_counter() - t) * 1000)

    def p(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100)[q - 1]

    return {"ours_p50": p(ours, 50), "ours_p95": p(ours, 95),
            "exact_p50": p(exact, 50), "exact_p95": p(exact, 95)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=0, help="also time search on N articles")
    parser.add_argument("--no-candidates", action="store_true")
    args = parser.parse_args()
    docs = dev_documents()
    print(f"dev set: {len(docs['uk'])} uk and {len(docs['ru'])} ru documents")
    with tempfile.TemporaryDirectory() as tmp:
        conn = build_db(Path(tmp) / "dev.db", docs)
        results = {"before: exact words (articles_fts)": score(docs, exact_searcher(conn))}
        results["after: ingest search (articles_search)"] = score(docs, ours_searcher(conn))
        conn.close()
    if not args.no_candidates:
        for name, analyse in candidates().items():
            results[f"candidate: {name}"] = score(docs, candidate_searcher(docs, analyse))
    for name, result in results.items():
        print(f"\n{name}")
        for key, r in result.items():
            print(
                f"  {key:12} queries {r['queries']:2}  relevant {r['relevant']:3}  "
                f"recall {r['recall']:.3f}  precision {r['precision']:.3f}  "
                f"misses: {', '.join(r['misses']) or '-'}"
            )
    cost = indexing_cost()
    print(f"\nindexing (analysis CPU, fresh process): dictionaries load {cost['load_s']:.2f} s")
    for name in ("uk articles", "uk sentences", "ru articles", "ru sentences"):
        c = cost[name]
        print(
            f"  {name}: {c['texts']} distinct texts, {c['chars']:,} chars: "
            f"{c['ms_per_text']:.3f} ms per text, {c['ms_per_3000_chars']:.3f} ms per 3,000 chars"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    if args.articles:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            t = time.perf_counter()
            synthetic_db(path, args.articles, docs)
            print(f"\n{args.articles:,} articles built in {time.perf_counter() - t:.0f} s")
            queries = [q for lang in NOUNS for q in NOUNS[lang]]
            lat = search_latency(path, queries, repeat=3)
            print(
                f"search, top 10 with snippets, {len(queries)} nouns x 3: ours p50 "
                f"{lat['ours_p50']:.1f} ms p95 {lat['ours_p95']:.1f} ms; exact words p50 "
                f"{lat['exact_p50']:.1f} ms p95 {lat['exact_p95']:.1f} ms; ratio of p95 "
                f"{lat['ours_p95'] / lat['exact_p95']:.2f}"
            )


if __name__ == "__main__":
    main()
