//! OCR of scanned pages: born-digital pages rasterised at 150 dpi greyscale and embedded as the
//! only content of a PDF (a scan whose true text is known), read back by Tesseract through the
//! extractor; scored by word recall against the page's own text. (Russian is not scored here yet:
//! the repository's one Russian PDF is English prose and TeX code.)

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use automix_docs::extract::{detect_format, extract, ocr, rasterise_page};
use automix_docs::{DocumentFormat, IndexOptions, Library};

const SCAN_DPI: f32 = 150.0;

/// Lowercased words of letters and digits (punctuation and hyphenation aside).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|word| word.chars().count() > 1).map(str::to_lowercase).collect()
}

/// Share of the reference's words (with repeats) found in the OCR text.
fn recall(reference: &str, read: &str) -> f64 {
    let read: HashSet<String> = words(read).into_iter().collect();
    let reference = words(reference);
    reference.iter().filter(|word| read.contains(*word)).count() as f64 / reference.len().max(1) as f64
}

/// The born-digital page as a scanner would have made it.
fn scan_of(pdf: &[u8], page: u16) -> Vec<u8> {
    let image = rasterise_page(pdf, page, SCAN_DPI).expect("the page renders");
    common::scanned_pdf_bytes(&image.pixels, image.width, image.height)
}

fn languages() {
    // Every test of this binary reads English, whatever the machine's locale.
    std::env::set_var(ocr::OCR_LANGUAGES_ENV, "eng");
}

const ENGLISH: [&str; 3] = [
    "The Harrowgate library lends up to eight books for three weeks at a time.",
    "Members may renew a loan twice by telephone, unless another reader has reserved the book.",
    "Overdue books cost twenty pence a day; the money buys new atlases for the reading room.",
];

#[test]
fn a_scanned_english_page_is_read_by_ocr_with_its_confidence() {
    languages();
    let born_digital = common::pdf_bytes(&[&ENGLISH], None);
    let scan = scan_of(&born_digital, 0);
    let started = std::time::Instant::now();
    let document = extract(Path::new("scan.pdf"), &scan, DocumentFormat::Pdf).expect("the scan is read by OCR");
    let score = recall(&ENGLISH.join(" "), &document.text);
    println!("a scanned page read by OCR in {:.2} s: word recall {score:.3}", started.elapsed().as_secs_f64());
    assert!(score >= 0.95, "word recall {score:.3}: {}", document.text);
    assert!(document.blocks.iter().all(|block| block.page == Some(1) && block.ocr_confidence.is_some_and(|c| c > 60.0)), "{:?}", document.blocks);
}

#[test]
fn a_scanner_image_is_a_document_and_the_library_keeps_its_confidence() {
    languages();
    let born_digital = common::pdf_bytes(&[&ENGLISH], None);
    let image = rasterise_page(&born_digital, 0, SCAN_DPI).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // `scanimage` writes PNM; Tesseract reads it as it is.
    let file = common::write(dir.path(), "loan-rules.pgm", &image.to_pgm());
    assert_eq!(detect_format(&file, &image.to_pgm()), DocumentFormat::Image);
    let mut library = Library::open(&dir.path().join("library.sqlite")).unwrap();
    library.add_paths(common::embedder(), std::slice::from_ref(&file), &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let text = library.document_text(&file.to_string_lossy()).unwrap();
    assert_eq!(text.document.format, DocumentFormat::Image);
    assert_eq!(text.pages.len(), 1);
    assert!(text.pages[0].ocr_confidence.is_some_and(|c| c > 60.0), "{:?}", text.pages[0]);
    assert!(recall(&ENGLISH.join(" "), &text.text) >= 0.95, "{}", text.text);
}

#[test]
fn a_blank_scan_is_a_clear_no_text_error() {
    languages();
    let error = extract(Path::new("blank.pdf"), &common::image_only_pdf_bytes(), DocumentFormat::Pdf).unwrap_err();
    assert_eq!(error.code(), "no_text_layer", "{error}");
    assert!(error.to_string().contains("OCR found no words"), "{error}");
}
