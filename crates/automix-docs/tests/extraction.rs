//! Every supported format, read back from sample files written here.

mod common;

use std::path::Path;

use automix_docs::extract::{detect_format, extract, read_document_bytes, Block};
use automix_docs::{DocumentFormat, ExtractError, ExtractedDocument};

fn extract_bytes(name: &str, bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let path = Path::new(name);
    extract(path, bytes, detect_format(path, bytes))
}

fn blocks(document: &ExtractedDocument) -> Vec<(Option<u8>, Option<u32>, String)> {
    document.blocks.iter().map(|block| (block.heading_level, block.page, document.block_text(block).to_string())).collect()
}

#[test]
fn pdf_text_keeps_page_numbers_and_paragraphs() {
    let bytes = common::pdf_bytes(&[&["Chapter one opens here.", "A second paragraph on page one."], &["Page two talks about rivers."]], Some("River Report"));
    let document = extract_bytes("report.pdf", &bytes).expect("extract pdf");
    assert_eq!(document.format, DocumentFormat::Pdf);
    assert_eq!(document.title, "River Report");
    assert_eq!(
        blocks(&document),
        vec![
            (None, Some(1), "Chapter one opens here.".to_string()),
            (None, Some(1), "A second paragraph on page one.".to_string()),
            (None, Some(2), "Page two talks about rivers.".to_string()),
        ]
    );
}

#[test]
fn broken_pdfs_get_specific_errors() {
    let encrypted = extract_bytes("locked.pdf", &common::encrypted_pdf_bytes()).unwrap_err();
    assert!(matches!(encrypted, ExtractError::EncryptedPdf { .. }), "{encrypted}");
    let scanned = extract_bytes("scan.pdf", &common::image_only_pdf_bytes()).unwrap_err();
    assert!(matches!(scanned, ExtractError::NoTextLayer { .. }), "{scanned}");
    assert!(scanned.to_string().contains("OCR"));
    let corrupt = extract_bytes("broken.pdf", b"%PDF-1.7\nthis file was cut off in the mid").unwrap_err();
    assert!(matches!(corrupt, ExtractError::Corrupt { format: DocumentFormat::Pdf, .. }), "{corrupt}");
}

/// Blocks of a real PDF from tests/fixtures/pdf (see tests/fixtures/pdf/SOURCES.md).
fn fixture_pdf(name: &str) -> ExtractedDocument {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pdf").join(name);
    let bytes = std::fs::read(&path).expect("read fixture");
    extract(&path, &bytes, DocumentFormat::Pdf).expect("extract fixture")
}

/// The text with ligatures and compatibility forms folded, as the index sees it.
fn folded(document: &ExtractedDocument) -> String {
    use unicode_normalization::UnicodeNormalization;
    document.text.nfkc().collect()
}

#[test]
fn cyrillic_pdf_reads_through_its_tounicode_maps_with_ligatures_intact() {
    let document = fixture_pdf("babel-russian-ru.pdf");
    let text = folded(&document);
    for word in ["Литература", "Библіографія", "Предметный указатель", "Доказательство", "The Russian Language Definition File"]
    {
        assert!(text.contains(word), "{word:?} missing from the Russian babel manual");
    }
    assert!(!text.contains('\u{fffd}'), "unmapped glyphs in the Russian babel manual");
    assert!(!text.contains("Denition"), "a dropped fi ligature");
    assert!(document.blocks.iter().all(|block| block.page.is_some()));
}

#[test]
fn japanese_cid_fonts_without_tounicode_read_through_the_adobe_japan1_map() {
    let document = fixture_pdf("platexcheat-sample-ja.pdf");
    let text = folded(&document);
    // "自力で / 入手しなくとも" is broken across two lines on the page: Japanese lines join without a space.
    for phrase in ["便利に", "近年人気のディストリビューション", "自力で入手しなくとも", "インストールされている"] {
        assert!(text.contains(phrase), "{phrase:?} missing from the pLaTeX sample: {text}");
    }
    assert!(!text.contains('\u{fffd}'), "unmapped glyphs in the pLaTeX sample");
}

#[test]
fn a_real_pdfs_page_labels_follow_its_physical_pages() {
    let document = fixture_pdf("xiaoshan-sample-zh.pdf");
    let page_three: Vec<&Block> = document.blocks.iter().filter(|block| block.page == Some(3)).collect();
    assert!(!page_three.is_empty());
    assert!(page_three.iter().all(|block| block.page_label.as_deref() == Some("2")), "{page_three:?}");
    let text: String = page_three.iter().map(|block| document.block_text(block)).collect::<Vec<_>>().join(" ");
    assert!(text.contains("其实是 Metropolis 主题的魔改"), "{text}");
    assert!(document.blocks.iter().filter(|block| block.page == Some(1)).all(|block| block.page_label.is_none()));
}

#[test]
fn page_labels_sit_next_to_physical_pages() {
    let bytes = common::labelled_pdf_bytes(&[&["Preface."], &["Thanks."], &["Chapter one."], &["Chapter two."]], 2);
    let document = extract_bytes("book.pdf", &bytes).expect("extract labelled pdf");
    let pages: Vec<(Option<u32>, Option<&str>)> = document.blocks.iter().map(|block| (block.page, block.page_label.as_deref())).collect();
    assert_eq!(pages, vec![(Some(1), Some("i")), (Some(2), Some("ii")), (Some(3), Some("1")), (Some(4), Some("2"))]);
    let unlabelled = extract_bytes("plain.pdf", &common::pdf_bytes(&[&["One."], &["Two."]], None)).expect("extract pdf");
    assert!(unlabelled.blocks.iter().all(|block| block.page_label.is_none()));
}

#[test]
fn docx_paragraph_styles_become_headings() {
    let bytes = common::docx_bytes(
        "Field Guide",
        &[(Some("Heading1"), "Birds"), (None, "Robins sing at dawn & dusk."), (Some("Heading2"), "Owls"), (None, "Owls hunt at night.")],
    );
    let document = extract_bytes("guide.docx", &bytes).expect("extract docx");
    assert_eq!(document.format, DocumentFormat::Docx);
    assert_eq!(document.title, "Field Guide");
    assert_eq!(
        blocks(&document),
        vec![
            (Some(1), None, "Birds".to_string()),
            (None, None, "Robins sing at dawn & dusk.".to_string()),
            (Some(2), None, "Owls".to_string()),
            (None, None, "Owls hunt at night.".to_string()),
        ]
    );
    let corrupt = extract_bytes("broken.docx", b"PK\x03\x04 truncated archive").unwrap_err();
    assert!(matches!(corrupt, ExtractError::Corrupt { format: DocumentFormat::Docx, .. }), "{corrupt}");
}

#[test]
fn markdown_headings_lists_and_code_are_blocks() {
    let source = "# Setup\n\nInstall the *tool*\nwith one command.\n\n## Linux\n\n- apt install tool\n- run `tool --init`\n\n```\ncode line\n```\n";
    let document = extract_bytes("setup.md", source.as_bytes()).expect("extract markdown");
    assert_eq!(document.title, "Setup");
    assert_eq!(
        blocks(&document),
        vec![
            (Some(1), None, "Setup".to_string()),
            (None, None, "Install the tool with one command.".to_string()),
            (Some(2), None, "Linux".to_string()),
            (None, None, "apt install tool".to_string()),
            (None, None, "run tool --init".to_string()),
            (None, None, "code line".to_string()),
        ]
    );
}

#[test]
fn html_skips_scripts_and_keeps_headings() {
    let source = "<html><head><title>Tea Notes</title><style>p{}</style></head><body>\
        <h1>Green tea</h1><p>Steep   for <b>two</b> minutes.</p><script>alert(1)</script>\
        <ul><li>Sencha</li><li>Matcha</li></ul></body></html>";
    let document = extract_bytes("tea.html", source.as_bytes()).expect("extract html");
    assert_eq!(document.title, "Tea Notes");
    assert_eq!(
        blocks(&document),
        vec![
            (Some(1), None, "Green tea".to_string()),
            (None, None, "Steep for two minutes.".to_string()),
            (None, None, "Sencha".to_string()),
            (None, None, "Matcha".to_string()),
        ]
    );
}

#[test]
fn text_encodings_are_detected() {
    let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode("Le café crème coûte très cher à Paris.\n\nDeuxième paragraphe évoqué.");
    let document = extract_bytes("notes.txt", &latin1).expect("extract windows-1252 text");
    assert_eq!(document.text, "Le café crème coûte très cher à Paris.\n\nDeuxième paragraphe évoqué.");

    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend("Grüße aus Köln.".encode_utf16().flat_map(|unit| unit.to_le_bytes()));
    let document = extract_bytes("greeting.txt", &utf16).expect("extract utf-16 text");
    assert_eq!(document.text, "Grüße aus Köln.");
}

#[test]
fn binary_empty_and_oversize_files_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let binary: Vec<u8> = (0..4096u32).map(|value| (value * 7919 % 251) as u8).collect();
    let binary_error = extract_bytes("data.txt", &binary).unwrap_err();
    assert!(matches!(binary_error, ExtractError::Binary { .. }), "{binary_error}");

    let empty = common::write(dir.path(), "empty.md", b"");
    assert!(matches!(read_document_bytes(&empty, 1000), Err(ExtractError::Empty { .. })));
    let big = common::write(dir.path(), "big.txt", &[b'a'; 2048]);
    let too_large = read_document_bytes(&big, 1024).unwrap_err();
    assert!(matches!(too_large, ExtractError::TooLarge { size: 2048, limit: 1024, .. }), "{too_large}");
    assert!(too_large.to_string().contains("--max-size"));
}
