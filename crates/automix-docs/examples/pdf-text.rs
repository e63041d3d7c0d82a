//! Prints the text automix-docs extracts from one PDF, page by page, with a form feed between
//! pages (the layout `pdftotext` uses), so tools/pdf-corpus/score.py can compare the two.
//!
//! `cargo run --release -p automix-docs --example pdf-text -- FILE.pdf`

use std::io::Write;
use std::process::ExitCode;

use automix_docs::extract::{extract, DocumentFormat};

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: pdf-text FILE.pdf");
        return ExitCode::from(2);
    };
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => {
            eprintln!("cannot read {}: {error}", path.display());
            return ExitCode::FAILURE;
        }
    };
    let document = match extract(&path, &bytes, DocumentFormat::Pdf) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = String::new();
    let mut page = 1;
    for block in &document.blocks {
        // Pages without text still get their form feed, so page N of the output is page N of the PDF.
        while block.page.is_some_and(|block_page| block_page > page) {
            out.push('\x0c');
            page += 1;
        }
        out.push_str(document.block_text(block));
        out.push_str("\n\n");
    }
    // Pages read by OCR (no text layer, or one that is noise) are named, so a scorer can tell.
    let mut ocr_pages: Vec<u32> = document.blocks.iter().filter(|block| block.ocr_confidence.is_some()).filter_map(|block| block.page).collect();
    ocr_pages.dedup();
    if !ocr_pages.is_empty() {
        eprintln!("{}: pages read by OCR: {ocr_pages:?}", path.display());
    }
    std::io::stdout().write_all(out.as_bytes()).map(|()| ExitCode::SUCCESS).unwrap_or(ExitCode::FAILURE)
}
