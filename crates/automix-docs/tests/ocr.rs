//! OCR of scanned pages: born-digital pages rasterised at 150 dpi greyscale and embedded as the
//! only content of a PDF (a scan whose true text is known), read back by Tesseract through the
//! extractor; scored by word recall against the page's own text; and real scans and photos
//! against hand-checked transcripts. (Russian is not scored here yet:
//! the repository's one Russian PDF is English prose and TeX code.)

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;

use automix_docs::extract::{detect_format, extract, ocr, rasterise_page};
use automix_docs::{DocumentFormat, IndexOptions, Library};

const SCAN_DPI: f32 = 150.0;

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
    let score = common::word_recall(&ENGLISH.join(" "), &document.text);
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
    assert!(common::word_recall(&ENGLISH.join(" "), &text.text) >= 0.95, "{}", text.text);
}

#[test]
fn a_scan_whose_text_layer_is_a_scanners_noise_is_read_by_ocr_and_a_good_layer_is_kept() {
    languages();
    let born_digital = common::pdf_bytes(&[&ENGLISH], None);
    let image = rasterise_page(&born_digital, 0, SCAN_DPI).unwrap();
    let noise = ["~ ,;. i~ t'- ~..,' ':. 'r -; l:. ,'- =- ~~", "'' ., ;: -~ ,, '. ~' ;; :. -- ,' .~ ~- ..", "' ; ~ ~ ,;. :. -- ,' .~ i~ '' .,"];
    let scan = common::scanned_pdf_with_layer(&image.pixels, image.width, image.height, &noise);
    let document = extract(Path::new("noisy.pdf"), &scan, DocumentFormat::Pdf).expect("the noisy scan is read");
    assert!(common::word_recall(&ENGLISH.join(" "), &document.text) >= 0.95, "{}", document.text);
    assert!(document.blocks.iter().all(|block| block.ocr_confidence.is_some()), "the page says it was read by OCR");

    // A scanner's good OCR layer is the page's text: no second OCR.
    let scan = common::scanned_pdf_with_layer(&image.pixels, image.width, image.height, &ENGLISH);
    let document = extract(Path::new("searchable.pdf"), &scan, DocumentFormat::Pdf).unwrap();
    assert_eq!(document.text.split_whitespace().collect::<Vec<_>>(), ENGLISH.join(" ").split_whitespace().collect::<Vec<_>>());
    assert!(document.blocks.iter().all(|block| block.ocr_confidence.is_none()));
}

/// Real scans and photos (tests/fixtures/scans, with their sources and licences) against their
/// hand-checked transcripts; each floor sits a little under what this machine measured.
#[test]
fn real_scans_and_photos_are_read_against_their_checked_transcripts() {
    languages();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scans");
    let cases = [
        ("linn_brochure.png", "linn_brochure.txt", 0.97),
        ("huckfinn_ch3_p29.jpg", "huckfinn_ch3_p29.txt", 0.94),
        ("huckfinn_ch3_p29_imageonly.pdf", "huckfinn_ch3_p29.txt", 0.94),
        // A phone photo of a curved page, stored sideways under its EXIF orientation: Tesseract's
        // orientation detection turns it upright.
        ("boston_cooking_p248_photo.jpg", "boston_cooking_p248_photo.txt", 0.90),
    ];
    let mut failures = Vec::new();
    for (file, transcript, floor) in cases {
        let path = folder.join(file);
        let bytes = std::fs::read(&path).unwrap();
        let reference = std::fs::read_to_string(folder.join(transcript)).unwrap();
        let started = std::time::Instant::now();
        let document = extract(&path, &bytes, detect_format(&path, &bytes)).unwrap_or_else(|error| panic!("{file}: {error}"));
        let score = common::word_recall(&reference, &document.text);
        let confidence = document.blocks.first().and_then(|block| block.ocr_confidence).unwrap_or(0.0);
        println!("{file}: word recall {score:.3}, mean confidence {confidence:.0}, {:.1} s", started.elapsed().as_secs_f64());
        if score < floor {
            failures.push(format!("{file}: recall {score:.3} < {floor}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}

/// A phone's HEIC photo: the Huckleberry Finn scan encoded by libheif (`make deps` installs
/// libheif-examples, whose heif-convert decodes it for OCR).
#[test]
fn a_heic_photo_is_decoded_and_read() {
    languages();
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scans");
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("page.heic");
    let encoded = std::process::Command::new("heif-enc").args(["-q", "60"]).arg(folder.join("huckfinn_ch3_p29.jpg")).arg("-o").arg(&photo).output();
    assert!(encoded.as_ref().is_ok_and(|output| output.status.success()), "heif-enc (libheif-examples, `make deps`) encodes the test photo: {encoded:?}");
    let bytes = std::fs::read(&photo).unwrap();
    assert_eq!(detect_format(&photo, &bytes), DocumentFormat::Image);
    assert_eq!(detect_format(Path::new("renamed.bin"), &bytes), DocumentFormat::Image, "known by its bytes");
    let document = extract(&photo, &bytes, DocumentFormat::Image).expect("the HEIC photo is read");
    let reference = std::fs::read_to_string(folder.join("huckfinn_ch3_p29.txt")).unwrap();
    let score = common::word_recall(&reference, &document.text);
    println!("a HEIC photo: word recall {score:.3}");
    assert!(score >= 0.94, "word recall {score:.3}: {}", document.text);

    // Without the decoder: a clear error naming the package.
    std::env::set_var(automix_docs::extract::ocr::HEIF_CONVERT_ENV, "/nonexistent/heif-convert");
    let error = extract(&photo, &bytes, DocumentFormat::Image).unwrap_err();
    std::env::remove_var(automix_docs::extract::ocr::HEIF_CONVERT_ENV);
    assert_eq!(error.code(), "heic_decoder_missing", "{error}");
    assert!(error.to_string().contains("libheif-examples"), "{error}");
}

#[test]
fn a_blank_scan_is_a_clear_no_text_error() {
    languages();
    let error = extract(Path::new("blank.pdf"), &common::image_only_pdf_bytes(), DocumentFormat::Pdf).unwrap_err();
    assert_eq!(error.code(), "no_text_layer", "{error}");
    assert!(error.to_string().contains("OCR found no words"), "{error}");
}
