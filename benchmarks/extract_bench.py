"""Benchmark our article-body extraction against trafilatura, side by side, in one run.

Why: quality and speed only compare when measured on the same pages, on the same machine, in
the same process; this script runs ``ingest.extract.extract_body`` and ``trafilatura.extract``
(include_comments=False, as the shared harness runs it) on the article-extraction-benchmark
pages and prints precision, recall, F1 and the median milliseconds per page of each.

Metric (the benchmark's published one): each text -> \\w+ tokens -> multiset of 4-token
shingles; per page P and R; P is the mean over pages with non-empty output, R the mean over
all pages; F1 = 2PR / (P + R). The shared harness's scoring is imported when it is there.

Usage (from the repo root):
    python benchmarks/extract_bench.py [--data DIR] [--limit N] [--no-trafilatura]

Default data: ../shared/data/article-extraction-benchmark next to the repo. It is not part of
the repo: when it is missing, the script says so and exits 0. trafilatura comes from the
``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "article-extraction-benchmark"
HARNESS = REPO_ROOT.parent / "shared" / "eval" / "extract_bench.py"
WARMUP = 3

Extractor = Callable[[str, str], str | None]
Scorer = Callable[[dict[str, Any], str], dict[str, Any]]

_TOKEN_RE = re.compile(r"\w+")


def _shingles(text: str, n: int = 4) -> Counter[tuple[str, ...]]:
    tokens = _TOKEN_RE.findall(text or "")
    if len(tokens) < n:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def score_page(page: dict[str, Any], text: str) -> dict[str, Any]:
    """The documented per-page metric, for when the shared harness is not next to the repo."""
    truth, pred = _shingles(page["truth"]), _shingles(text)
    tp = sum((truth & pred).values())
    fp = sum((pred - truth).values())
    fn = sum((truth - pred).values())
    p = tp / (tp + fp) if tp + fp else None
    r = tp / (tp + fn) if tp + fn else None
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p and r else 0.0}


def load_scorer() -> Scorer:
    """The shared harness's ``score_dev`` when present (the numbers then match it exactly)."""
    if HARNESS.is_file():
        spec = importlib.util.spec_from_file_location("shared_extract_bench", HARNESS)
        if spec is not None and spec.loader is not None:
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            scorer: Scorer = module.score_dev
            return scorer
    return score_page


def load_pages(data: Path) -> list[dict[str, Any]]:
    truth = json.loads((data / "ground-truth.json").read_text("utf-8"))
    pages = []
    for pid, item in sorted(truth.items()):
        html = gzip.decompress((data / "html" / f"{pid}.html.gz").read_bytes()).decode("utf-8")
        pages.append(
            {"id": pid, "url": item.get("url", ""), "html": html, "truth": item["articleBody"]}
        )
    return pages


@dataclass
class Result:
    """Scores and timings of one extractor over the pages."""

    name: str
    scores: list[dict[str, Any]] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    errors: int = 0

    def _mean(self, key: str) -> float:
        values = [s[key] for s in self.scores if s[key] is not None]
        return sum(values) / len(values) if values else 0.0

    @property
    def precision(self) -> float:
        return self._mean("p")

    @property
    def recall(self) -> float:
        return self._mean("r")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def ms_median(self) -> float:
        return statistics.median(self.ms) if self.ms else 0.0


def run(name: str, extract: Extractor, pages: list[dict[str, Any]], score: Scorer) -> Result:
    """Time only the extractor call, after an untimed warm-up, as the shared harness does."""
    for page in pages[:WARMUP]:
        extract(page["html"], page["url"])
    result = Result(name)
    for page in pages:
        start = time.perf_counter()
        try:
            text = extract(page["html"], page["url"]) or ""
        except Exception:  # noqa: BLE001 - a crash is an empty output, as in production
            text = ""
            result.errors += 1
        result.ms.append((time.perf_counter() - start) * 1000)
        result.scores.append(score(page, text))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="benchmark folder")
    parser.add_argument("--limit", type=int, default=0, help="first N pages only")
    parser.add_argument("--no-trafilatura", action="store_true", help="ours only")
    args = parser.parse_args(argv)
    if not (args.data / "ground-truth.json").is_file():
        print(f"no benchmark data at {args.data}: nothing to measure (it is not in the repo)")
        return 0
    sys.path.insert(0, str(REPO_ROOT))
    from ingest.extract import extract_body

    extractors: list[tuple[str, Extractor]] = [("ours (ingest.extract)", extract_body)]
    if not args.no_trafilatura:
        try:
            import trafilatura
        except ImportError:
            print("trafilatura is not installed (pip install -e '.[bench]'): ours only")
        else:

            def traf(html: str, url: str) -> str | None:
                text: str | None = trafilatura.extract(
                    html, url=url or None, include_comments=False
                )
                return text

            extractors.append((f"trafilatura {trafilatura.__version__}", traf))
    pages = load_pages(args.data)
    if args.limit:
        pages = pages[: args.limit]
    score = load_scorer()
    results = [run(name, fn, pages, score) for name, fn in extractors]
    print(f"{len(pages)} pages from {args.data}")
    print(f"{'extractor':28} {'P':>6} {'R':>6} {'F1':>6} {'ms/page':>8} {'errors':>6}")
    for res in results:
        print(
            f"{res.name:28} {res.precision:6.3f} {res.recall:6.3f} {res.f1:6.3f} "
            f"{res.ms_median:8.1f} {res.errors:6d}"
        )
    if len(results) == 2 and results[1].ms_median:
        ratio = results[0].ms_median / results[1].ms_median
        print(f"median ms/page ratio ours / trafilatura: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
