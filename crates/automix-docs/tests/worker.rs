//! Documents read in the worker process: a file over the memory limit fails alone, a long scan
//! reports its pages, can be cancelled mid-file, and resumes at its first unread page.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use automix_docs::extract::{ocr, rasterise_page, worker, DocumentReader};
use automix_docs::{DocsError, FileOutcome, IndexOptions, IndexProgress, Library};

/// Every test here reads through the crate's own reader binary, in English.
fn use_worker() {
    std::env::set_var(worker::READER_ENV, env!("CARGO_BIN_EXE_automix-document-reader"));
    std::env::set_var(ocr::OCR_LANGUAGES_ENV, "eng");
}

/// The peak resident memory of this process so far, in MiB (VmHWM).
fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok()).unwrap_or(0) / 1024
}

fn add(
    library: &mut Library,
    paths: &[PathBuf],
    progress: &mut dyn FnMut(&IndexProgress),
    cancel: &AtomicBool,
) -> Result<Vec<automix_docs::FileReport>, DocsError> {
    library.add_paths(common::embedder(), paths, &IndexOptions::default(), progress, cancel)
}

#[test]
fn a_pdf_that_inflates_past_the_memory_limit_fails_alone_and_the_folder_is_indexed() {
    use_worker();
    assert!(DocumentReader::new().isolated(), "the tests read through the worker");
    common::embedder();
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("synced");
    // 400 KB on disk, 210 MB of content once inflated: what cost the indexer 4.2 GB in-process.
    let bomb = common::inflate_bomb_pdf_bytes(210 << 20);
    println!("the bomb: {} KB on disk", bomb.len() / 1024);
    common::write(&folder, "a-bomb.pdf", &bomb);
    common::write(&folder, "b-notes.md", b"# Notes\n\nThe ferry to Tobermory leaves at ten past nine.\n");
    common::write(&folder, "c-minutes.pdf", &common::pdf_bytes(&[&["The committee meets on the first Tuesday of each month."]], None));
    let mut library = Library::open(&dir.path().join("library.sqlite")).unwrap();
    let before = peak_rss_mib();
    let started = Instant::now();
    let reports = add(&mut library, &[folder], &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let grown = peak_rss_mib().saturating_sub(before);
    println!("the folder in {seconds:.1} s; this process's peak memory grew {grown} MiB");
    let outcome =
        |name: &str| &reports.iter().find(|report| report.path.ends_with(name)).unwrap_or_else(|| panic!("no report for {name}: {reports:?}")).outcome;
    let FileOutcome::Failed { error } = outcome("a-bomb.pdf") else { panic!("the bomb was indexed: {reports:?}") };
    assert!(error.contains("a-bomb.pdf") && error.contains("MiB of memory"), "{error}");
    assert!(matches!(outcome("b-notes.md"), FileOutcome::Added { .. }), "{reports:?}");
    assert!(matches!(outcome("c-minutes.pdf"), FileOutcome::Added { .. }), "the next PDF gets a fresh reader: {reports:?}");
    // Inflating alone is 210 MB; the bomb read in this process would have cost gigabytes.
    assert!(grown < 150, "the indexer's own memory grew {grown} MiB");
}

/// A three-page scan of known text, and that text page by page.
fn three_page_scan() -> (Vec<u8>, [&'static str; 3]) {
    let pages = [
        "The orchard keeps forty pear trees and twelve old apple trees along the south wall.",
        "Pickers start at seven and stop at noon when the sun is on the upper rows.",
        "The cider press runs on Saturdays from October until the last crates are empty.",
    ];
    let images: Vec<_> = pages
        .iter()
        .map(|text| {
            let born_digital = common::pdf_bytes(&[&[text]], None);
            rasterise_page(&born_digital, 0, 150.0).expect("the page renders")
        })
        .collect();
    let views: Vec<(&[u8], usize, usize)> = images.iter().map(|image| (image.pixels.as_slice(), image.width, image.height)).collect();
    (common::scanned_pdf_pages(&views), pages)
}

#[test]
fn a_long_scan_reports_its_pages_and_a_cancelled_read_resumes_at_its_first_unread_page() {
    use_worker();
    let dir = tempfile::tempdir().unwrap();
    let (scan, texts) = three_page_scan();
    let file = common::write(dir.path(), "orchard.pdf", &scan);
    let mut library = Library::open(&dir.path().join("library.sqlite")).unwrap();

    // Cancelled once the first page is read: the read stops mid-file, and nothing is stored.
    let cancel = AtomicBool::new(false);
    let mut seen = Vec::new();
    let result = add(
        &mut library,
        std::slice::from_ref(&file),
        &mut |progress| {
            if let Some(pages) = progress.pages {
                seen.push(pages);
                if pages.done == 1 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(DocsError::Cancelled)), "{result:?}");
    assert_eq!(seen.first().map(|pages| (pages.done, pages.total, pages.ocr)), Some((1, 3, 1)), "{seen:?}");
    assert!(library.documents().unwrap().is_empty());
    let kept: Vec<PathBuf> = walk(&dir.path().join("ocr-pages"));
    assert_eq!(kept.len(), 1, "the first page is kept for the resumed read: {kept:?}");
    assert!(kept[0].file_name().unwrap().to_string_lossy().starts_with("page-1-eng"), "{kept:?}");

    // Mark the kept page, so the resumed read shows where page 1 came from.
    let mut page: serde_json::Value = serde_json::from_slice(&std::fs::read(&kept[0]).unwrap()).unwrap();
    page["paragraphs"] = serde_json::json!(["Kept from the interrupted read: pear trees."]);
    std::fs::write(&kept[0], serde_json::to_vec(&page).unwrap()).unwrap();

    let mut seen = Vec::new();
    let reports = add(
        &mut library,
        std::slice::from_ref(&file),
        &mut |progress| {
            // Embedding steps repeat the last page's report.
            if progress.pages.is_some() && seen.last() != progress.pages.as_ref() {
                seen.extend(progress.pages)
            }
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert!(matches!(reports[0].outcome, FileOutcome::Added { .. }), "{reports:?}");
    let pages: Vec<(u32, u32, u32)> = seen.iter().map(|pages| (pages.done, pages.total, pages.ocr)).collect();
    assert_eq!(pages, vec![(1, 3, 1), (2, 3, 2), (3, 3, 3)]);
    let text = library.document_text(&file.to_string_lossy()).unwrap();
    assert_eq!(text.pages.len(), 3);
    assert_eq!(text.pages[0].text, "Kept from the interrupted read: pear trees.", "page 1 came from the kept read");
    for (page, expected) in text.pages.iter().zip(texts).skip(1) {
        assert!(page.text.contains(expected.split(' ').nth(1).unwrap()), "page {}: {}", page.number, page.text);
        assert!(page.ocr_confidence.is_some());
    }
    assert!(walk(&dir.path().join("ocr-pages")).is_empty(), "kept pages go once the document is stored");
}

#[test]
fn a_reader_that_dies_is_a_clear_error_for_its_file() {
    // Not the shared worker: a program that exits at once stands for a reader that crashed.
    let dir = tempfile::tempdir().unwrap();
    let file = common::write(dir.path(), "note.md", b"# A note\n\nSome words.\n");
    let mut reader = DocumentReader::with_worker("/bin/false");
    let options = worker::ReadOptions { max_file_bytes: 1 << 20, ocr_cache: None, ocr_languages: None };
    let error = reader.read(&file, &options, &mut |_| {}, &AtomicBool::new(false)).unwrap_err();
    assert_eq!(error.code(), "reader_failed", "{error}");
    assert!(error.to_string().contains("note.md") && error.to_string().contains("exit status: 1"), "{error}");
}

fn walk(folder: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(folder) else { return Vec::new() };
    entries.flatten().flat_map(|entry| if entry.path().is_dir() { walk(&entry.path()) } else { vec![entry.path()] }).collect()
}
