#!/usr/bin/env python3
"""Is a sentence a reader sees on page N found by `automix search` and cited at page N?

Samples sentences from the corpus that fetch.sh downloads, page by page as poppler's pdftotext
reads them (the reader's view), indexes the corpus into a scratch library with the given automix
binary (never the user's), searches each sentence, and counts a hit when the best result is the
sentence's file and its citation's physical page range covers page N. It also reports how many
hits carry the printed page label and the indexing speed (pages per second).

A sentence is a run of text ending in . ! ? or 。！？ with at least 8 words (or 16 characters of
Chinese, Japanese or Korean), that occurs once in the whole corpus (headers and footers repeat on
every page and cannot name one page). Sampling is seeded and spread over the files round-robin.

    tools/pdf-corpus/citations.py [--automix target/release/automix] [--sentences 100] [--seed 7]

Standard library only; needs pdftotext (poppler-utils) and the models `automix models pull`
installed (their folder is linked into the scratch library).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]")


def pages_of(pdf):
    """The text of each page as pdftotext reads it, 1-based."""
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True).stdout
    return out.decode("utf-8", "replace").split("\f")


def candidate_sentences(text):
    for match in SENTENCE.finditer(text.replace("\n", " ")):
        sentence = " ".join(match.group(0).split())
        long_enough = len(sentence.split()) >= 8 or len(CJK.findall(sentence)) >= 16
        if long_enough and "\ufffd" not in sentence:
            yield sentence


def sample(pdfs, count, seed):
    per_file, seen = {}, {}
    for pdf in pdfs:
        for number, text in enumerate(pages_of(pdf), start=1):
            for sentence in candidate_sentences(text):
                seen[sentence] = seen.get(sentence, 0) + 1
                per_file.setdefault(pdf, []).append((number, sentence))
    rng = random.Random(seed)
    pools = {pdf: [item for item in items if seen[item[1]] == 1] for pdf, items in per_file.items()}
    for items in pools.values():
        rng.shuffle(items)
    chosen, files = [], sorted(pools, key=str)
    while len(chosen) < count and any(pools.values()):
        for pdf in files:
            if pools[pdf] and len(chosen) < count:
                number, sentence = pools[pdf].pop()
                chosen.append({"file": pdf.name, "page": number, "sentence": sentence})
    return chosen


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--automix", default=str(ROOT / "target/release/automix"))
    parser.add_argument("--corpus", default=str(ROOT / "target/pdf-corpus/pdfs"))
    parser.add_argument("--sentences", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default=os.path.join(os.environ.get("AUTOMIX_HOME", os.path.expanduser("~/.local/share/automix")), "models"))
    parser.add_argument("--json", help="write every sentence's result here")
    args = parser.parse_args()

    pdfs = sorted(Path(args.corpus).glob("*.pdf"))
    if not pdfs:
        sys.exit(f"no PDFs in {args.corpus}; run tools/pdf-corpus/fetch.sh first")
    sentences = sample(pdfs, args.sentences, args.seed)
    page_total = sum(len(pages_of(pdf)) - 1 for pdf in pdfs)

    with tempfile.TemporaryDirectory(prefix="automix-citations-") as home:
        os.symlink(os.path.abspath(args.models), os.path.join(home, "models"))
        env = dict(os.environ, AUTOMIX_HOME=home)
        started = time.monotonic()
        subprocess.run([args.automix, "docs", "add", args.corpus], env=env, check=True, stdout=subprocess.DEVNULL)
        index_secs = time.monotonic() - started
        results = []
        for item in sentences:
            out = subprocess.run([args.automix, "search", "--json", "--limit", "1", item["sentence"]], env=env, capture_output=True, check=True)
            hits = json.loads(out.stdout)
            citation = hits[0]["citation"] if hits else None
            found = bool(citation) and Path(citation["path"]).name == item["file"]
            start, end = (citation or {}).get("page_start"), (citation or {}).get("page_end")
            cited = found and start is not None and start <= item["page"] <= (end or start)
            results.append({**item, "found": found, "cited_at_page": cited, "cited": citation and {k: citation[k] for k in ("page_start", "page_end", "page_label_start", "page_label_end")}})

    found = sum(r["found"] for r in results)
    cited = sum(r["cited_at_page"] for r in results)
    labelled = sum(1 for r in results if r["cited_at_page"] and r["cited"]["page_label_start"])
    for r in results:
        if not r["cited_at_page"]:
            print(f"miss  {r['file']} p.{r['page']}: {r['sentence'][:80]!r} -> {r['cited']}")
    summary = {
        "sentences": len(results),
        "found_in_file": found,
        "cited_at_page": cited,
        "cited_at_page_share": round(cited / max(1, len(results)), 3),
        "cited_with_printed_label": labelled,
        "pdfs": len(pdfs),
        "pages": page_total,
        "index_secs": round(index_secs, 1),
        "pages_per_sec": round(page_total / index_secs, 2),
        "load": open("/proc/loadavg").read().split()[:3],
    }
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps({"summary": summary, "results": results}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
