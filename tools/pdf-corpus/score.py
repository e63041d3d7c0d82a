#!/usr/bin/env python3
"""Scores a PDF text extractor against poppler's pdftotext on the corpus that fetch.sh downloads.

For every PDF it runs the extractor (default: the automix-docs `pdf-text` example, which prints
the pages separated by form feeds), runs `pdftotext -enc UTF-8` once (cached), and compares the
two per file and per page:

* tokens: the text is NFKC-folded and casefolded; a token is a maximal run of letters, digits and
  combining marks (Unicode categories L*, N*, M*), except that Han ideographs, kana and CJK
  compatibility characters become one token each, because Chinese and Japanese put no spaces
  between words and a character is the unit both sides agree on. Hangul keeps its words (Korean
  is written with spaces). Format characters (ZWNJ, ZWJ, soft hyphen) are dropped inside a token.
* recall = matched tokens / reference tokens and precision = matched tokens / our tokens, where
  matched is the bag-of-words overlap (sum over tokens of the smaller of the two counts).
* mojibake tokens (whitespace-separated, before folding) contain U+FFFD, a private-use character,
  a C0/C1 control other than tab, newline, carriage return and form feed, or look like Cyrillic
  decoded as Latin-1 (UTF-8 lead bytes Ð/Ñ followed by a continuation character, or three or more
  letters in a row from U+00C0..U+00FF, which is what cp1251/KOI8 Cyrillic becomes).

Prints a table and a JSON summary; --json writes the full per-page results. Standard library only.
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CORPUS = ROOT / "target" / "pdf-corpus"
DEFAULT_COMMAND = str(
    Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples" / "pdf-text"
) + " {pdf}"

LATIN1_CYRILLIC = re.compile(r"[ÐÑ][\u0080-\u00bf]|[\u00c0-\u00ff]{3,}")


def is_cjk_unit(ch):
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B..
    )


def tokens(text):
    folded = unicodedata.normalize("NFKC", text).casefold()
    out = []
    current = []
    for ch in folded:
        if is_cjk_unit(ch):
            if current:
                out.append("".join(current))
                current = []
            out.append(ch)
        elif unicodedata.category(ch)[0] in "LNM":
            current.append(ch)
        elif unicodedata.category(ch) == "Cf":
            # Zero-width joiners and non-joiners shape a word (Persian می‌کند) without splitting it.
            continue
        elif current:
            out.append("".join(current))
            current = []
    if current:
        out.append("".join(current))
    return out


def is_mojibake(token):
    for ch in token:
        code = ord(ch)
        if ch == "\ufffd" or unicodedata.category(ch) == "Co":
            return True
        if (code < 0x20 and ch not in "\t\n\r\f") or 0x7F <= code <= 0x9F:
            return True
    return bool(LATIN1_CYRILLIC.search(token))


def mojibake_count(text):
    return sum(1 for token in text.split() if is_mojibake(token))


def split_pages(text):
    # pdftotext ends every page with a form feed; the example separates pages with one.
    if text.endswith("\f"):
        text = text[:-1]
    return text.split("\f")


def overlap(reference, ours):
    return sum(min(count, ours[token]) for token, count in reference.items())


def compare(reference_text, our_text):
    reference, ours = Counter(tokens(reference_text)), Counter(tokens(our_text))
    matched = overlap(reference, ours)
    ref_total, our_total = sum(reference.values()), sum(ours.values())
    recall = matched / ref_total if ref_total else (1.0 if not our_total else 0.0)
    precision = matched / our_total if our_total else (1.0 if not ref_total else 0.0)
    return recall, precision, ref_total, our_total


def reference_text(pdf, cache_dir):
    cache = cache_dir / (pdf.stem + ".txt")
    if cache.exists() and cache.stat().st_mtime >= pdf.stat().st_mtime:
        return cache.read_text(encoding="utf-8")
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True)
    text = result.stdout.decode("utf-8", errors="replace")
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache.write_text(text, encoding="utf-8")
    return text


def run_extractor(command, pdf):
    argv = [part.replace("{pdf}", str(pdf)) for part in shlex.split(command)]
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True)
    seconds = time.perf_counter() - start
    error = None
    if result.returncode != 0:
        error = result.stderr.decode("utf-8", errors="replace").strip().splitlines()[-1:] or ["exit %d" % result.returncode]
        error = error[0][:200]
    return result.stdout.decode("utf-8", errors="replace"), seconds, error


def score_file(pdf, command, cache_dir, save_dir):
    reference = reference_text(pdf, cache_dir)
    ours, seconds, error = run_extractor(command, pdf)
    if save_dir:
        (save_dir / (pdf.stem + ".txt")).write_text(ours, encoding="utf-8")
    recall, precision, ref_tokens, our_tokens = compare(reference, ours)
    ref_pages, our_pages = split_pages(reference), split_pages(ours)
    pages = []
    for index, ref_page in enumerate(ref_pages):
        our_page = our_pages[index] if index < len(our_pages) else ""
        page_recall, page_precision, page_ref_tokens, _ = compare(ref_page, our_page)
        pages.append(
            {"page": index + 1, "recall": round(page_recall, 4), "precision": round(page_precision, 4), "ref_tokens": page_ref_tokens}
        )
    scored = [page for page in pages if page["ref_tokens"] > 0]
    return {
        "file": pdf.stem,
        "pages": len(ref_pages),
        "our_pages": len(our_pages),
        "ref_tokens": ref_tokens,
        "our_tokens": our_tokens,
        "recall": round(recall, 4),
        "precision": round(precision, 4),
        "page_recall_mean": round(sum(p["recall"] for p in scored) / len(scored), 4) if scored else 1.0,
        "pages_below_0_9": sum(1 for p in scored if p["recall"] < 0.9),
        "mojibake": mojibake_count(ours),
        "ref_mojibake": mojibake_count(reference),
        "seconds": round(seconds, 3),
        "error": error,
        "page_results": pages,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with pdfs/ (from fetch.sh)")
    parser.add_argument("--command", default=DEFAULT_COMMAND, help="extractor command; {pdf} is the file (default: %(default)s)")
    parser.add_argument("--label", default="automix", help="name of this run in the summary")
    parser.add_argument("--json", type=Path, help="write the full per-file and per-page results here")
    parser.add_argument("--save-text", type=Path, help="keep each extraction as <name>.txt in this folder")
    parser.add_argument("files", nargs="*", help="corpus names to score (default: all)")
    args = parser.parse_args()

    pdf_dir = args.corpus / "pdfs"
    pdfs = sorted(pdf_dir.glob("*.pdf"))
    if args.files:
        pdfs = [pdf for pdf in pdfs if pdf.stem in set(args.files)]
    if not pdfs:
        sys.exit(f"no PDFs in {pdf_dir}; run tools/pdf-corpus/fetch.sh first")
    if args.save_text:
        args.save_text.mkdir(parents=True, exist_ok=True)

    results = []
    header = f"{'file':24} {'pages':>5} {'recall':>7} {'prec':>7} {'pg<0.9':>6} {'moji':>6} {'ref moji':>8} {'pages/s':>8}  error"
    print(header)
    print("-" * len(header))
    for pdf in pdfs:
        result = score_file(pdf, args.command, args.corpus / "ref", args.save_text)
        results.append(result)
        rate = result["pages"] / result["seconds"] if result["seconds"] else 0.0
        print(
            f"{result['file']:24} {result['pages']:5} {result['recall']:7.3f} {result['precision']:7.3f} "
            f"{result['pages_below_0_9']:6} {result['mojibake']:6} {result['ref_mojibake']:8} {rate:8.1f}  {result['error'] or ''}",
            flush=True,
        )

    recalls = [r["recall"] for r in results]
    precisions = [r["precision"] for r in results]
    total_pages = sum(r["pages"] for r in results)
    total_seconds = sum(r["seconds"] for r in results)
    summary = {
        "label": args.label,
        "files": len(results),
        "pages": total_pages,
        "mean_recall": round(sum(recalls) / len(recalls), 4),
        "median_recall": round(sorted(recalls)[len(recalls) // 2], 4),
        "min_recall": min(recalls),
        "mean_precision": round(sum(precisions) / len(precisions), 4),
        "min_precision": min(precisions),
        "files_below_0_9": sum(1 for r in recalls if r < 0.9),
        "mojibake": sum(r["mojibake"] for r in results),
        "ref_mojibake": sum(r["ref_mojibake"] for r in results),
        "errors": sum(1 for r in results if r["error"]),
        "seconds": round(total_seconds, 2),
        "pages_per_second": round(total_pages / total_seconds, 1) if total_seconds else None,
    }
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "files": results}, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
