//! Scores OCR on real born-digital PDFs: each page with a text layer is rasterised (150 dpi
//! greyscale by default), embedded as the only content of a one-page PDF (a scan whose true text
//! is known), read back through the extractor (rendered at 300 dpi, recognised by Tesseract) and
//! scored by word recall against the page's own text. Prints a line per page, then per file, then
//! the average, and the pages per minute on this machine.
//!
//! `cargo run --release -p automix-docs --example ocr-score -- [--dpi 150] [--pages 5] [--skip 2] FILE.pdf...`
//! (`AUTOMIX_OCR_LANGUAGES=eng+rus` for Russian; pages with fewer than 80 words are skipped:
//! title pages and figures say little about recall).

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::Instant;

use automix_docs::extract::{extract, rasterise_page, DocumentFormat};

const MIN_WORDS: usize = 80;

fn main() {
    let mut dpi = 150.0f32;
    let mut pages_per_file = 5usize;
    let mut skip = 0usize;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |name: &str| args.next().and_then(|value| value.parse::<f32>().ok()).unwrap_or_else(|| panic!("{name} needs a number"));
        match arg.as_str() {
            "--dpi" => dpi = number("--dpi"),
            "--pages" => pages_per_file = number("--pages") as usize,
            "--skip" => skip = number("--skip") as usize,
            _ => files.push(PathBuf::from(arg)),
        }
    }
    assert!(!files.is_empty(), "usage: ocr-score [--dpi 150] [--pages 5] [--skip 2] FILE.pdf...");
    let mut file_scores = Vec::new();
    let (mut total_pages, mut total_seconds) = (0usize, 0.0f64);
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
        let document = extract(file, &bytes, DocumentFormat::Pdf).unwrap_or_else(|error| panic!("{error}"));
        let mut page_texts: std::collections::BTreeMap<u32, String> = Default::default();
        for block in &document.blocks {
            if let Some(page) = block.page {
                let text = page_texts.entry(page).or_default();
                text.push_str(document.block_text(block));
                text.push('\n');
            }
        }
        let mut scores = Vec::new();
        for (page, reference) in page_texts.iter().filter(|(_, text)| text.split_whitespace().count() >= MIN_WORDS).skip(skip).take(pages_per_file) {
            let image = rasterise_page(&bytes, (*page - 1) as u16, dpi).expect("the page renders");
            let scan = common::scanned_pdf_bytes(&image.pixels, image.width, image.height);
            let started = Instant::now();
            let read = extract(file, &scan, DocumentFormat::Pdf).map(|document| document.text).unwrap_or_default();
            let seconds = started.elapsed().as_secs_f64();
            let recall = common::word_recall(reference, &read);
            println!("{} page {page}: word recall {recall:.3} ({} words, {seconds:.1} s)", file.display(), reference.split_whitespace().count());
            scores.push(recall);
            total_pages += 1;
            total_seconds += seconds;
        }
        let mean = scores.iter().sum::<f64>() / scores.len().max(1) as f64;
        println!("{}: mean word recall {mean:.3} over {} pages", file.display(), scores.len());
        file_scores.push(mean);
    }
    let mean = file_scores.iter().sum::<f64>() / file_scores.len().max(1) as f64;
    let lowest = file_scores.iter().cloned().fold(f64::INFINITY, f64::min);
    println!("{} files at {dpi} dpi: mean word recall {mean:.3}, lowest file {lowest:.3}", files.len());
    println!("{total_pages} pages in {total_seconds:.0} s: {:.1} pages a minute", total_pages as f64 / total_seconds.max(1e-9) * 60.0);
}
