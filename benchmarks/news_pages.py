"""Body token-F1 and language of each real page in tests/fixtures/news_pages through
``ingest.extract.extract_article`` — the figures the issues ask for, from the repo alone.

Reference text: fundus pages → the expected paragraphs (section headlines counted, as they are
article text); the trafilatura page (football.ua) has snippets instead: ``with`` found and
``without`` kept are printed. Usage: python benchmarks/news_pages.py
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

from ingest.extract import extract_article

PAGES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "news_pages"


def token_f1(got: str, want: str) -> float:
    """F1 over the multisets of case-folded \\w+ tokens."""
    a = Counter(re.findall(r"\w+", got.casefold()))
    b = Counter(re.findall(r"\w+", want.casefold()))
    tp = sum((a & b).values())
    return 0.0 if not tp else 2 * tp / (sum(a.values()) + sum(b.values()))


def page_url(stem: str) -> str:
    """The page's original URL, from the collection's README table."""
    readme = (PAGES / "README.md").read_text("utf-8")
    line = next(row for row in readme.splitlines() if row.startswith(f"| {stem} "))
    return next(cell.strip() for cell in line.split("|") if cell.strip().startswith("http"))


def main() -> None:
    print(f"{'page':42} lang  body F1 (paragraphs only / with headlines)")
    for expected_path in sorted(PAGES.glob("*.expected.json")):
        stem = expected_path.name.removesuffix(".expected.json")
        expected = json.loads(expected_path.read_text("utf-8"))
        item = extract_article((PAGES / f"{stem}.html").read_text("utf-8"), page_url(stem))
        body = item.body or ""
        if "body" in expected:
            sections = expected["body"]["sections"]
            paragraphs = "\n".join(p for s in sections for p in s["paragraphs"])
            full = "\n".join(p for s in sections for p in s["headline"] + s["paragraphs"])
            figures = f"{token_f1(body, paragraphs):.3f} / {token_f1(body, full):.3f}"
        else:
            flat = " ".join(body.split())
            found = sum(s in flat for s in expected["with"])
            kept = sum(s in flat for s in expected["without"])
            figures = f"with {found}/{len(expected['with'])}, without kept {kept}"
        print(f"{stem:42} {item.lang or '?':5} {figures}")


if __name__ == "__main__":
    main()
