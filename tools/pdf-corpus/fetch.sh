#!/usr/bin/env bash
# Fetches the PDF extraction corpus (tools/pdf-corpus/corpus.tsv) from Debian packages into
# target/pdf-corpus/pdfs/, checking every PDF against its pinned sha256. The PDFs stay out of git:
# they are large and their licences are the packages' own (see tools/pdf-corpus/SOURCES.md).
# Needs apt-get (Debian 12 "bookworm" sources) and dpkg-deb; no root needed for the download.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
manifest="$root/tools/pdf-corpus/corpus.tsv"
out="${PDF_CORPUS_DIR:-$root/target/pdf-corpus}"
mkdir -p "$out/debs" "$out/pdfs"

failed=0
while IFS=$'\t' read -r name package version path script sha; do
    [[ -z "$name" || "$name" == \#* ]] && continue
    pdf="$out/pdfs/$name.pdf"
    if [[ -f "$pdf" ]] && echo "$sha  $pdf" | sha256sum --check --status; then
        continue
    fi
    # apt names the file with the epoch's colon escaped as %3a.
    deb="$out/debs/${package}_${version/:/%3a}_all.deb"
    if [[ ! -f "$deb" ]]; then
        (cd "$out/debs" && apt-get download "$package=$version" >/dev/null)
    fi
    # Pull just the one member out of the package's data tarball.
    if [[ "$path" == *.gz ]]; then
        dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$path" | gunzip -c > "$pdf.tmp"
    else
        dpkg-deb --fsys-tarfile "$deb" | tar -xO "./$path" > "$pdf.tmp"
    fi
    mv "$pdf.tmp" "$pdf"
    if ! echo "$sha  $pdf" | sha256sum --check --status; then
        echo "checksum mismatch: $name ($package $version, $path)" >&2
        failed=1
    fi
done < "$manifest"

count=$(ls "$out/pdfs"/*.pdf | wc -l)
echo "$count PDFs in $out/pdfs"
exit "$failed"
