//! PDF text layer via lopdf, one page at a time, so every block knows its page number.

use std::collections::BTreeMap;
use std::path::Path;

use lopdf::content::Content;
use lopdf::{Document, Encoding, Object};

use super::text::split_paragraphs;
use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument};

/// A vertical move larger than this many font sizes starts a new paragraph.
const PARAGRAPH_GAP_IN_FONT_SIZES: f32 = 1.6;
/// A TJ kerning adjustment more negative than this (thousandths of an em) is a word space.
const WORD_GAP_KERNING: f32 = -200.0;

pub(crate) fn extract(path: &Path, bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let corrupt = |reason: String| ExtractError::Corrupt { path: path.to_path_buf(), format: DocumentFormat::Pdf, reason };
    let declares_encryption = bytes.windows(8).any(|window| window == b"/Encrypt");
    let document = match Document::load_mem(bytes) {
        Ok(document) => document,
        Err(_) if declares_encryption => return Err(ExtractError::EncryptedPdf { path: path.to_path_buf() }),
        Err(error) => return Err(corrupt(error.to_string())),
    };
    // lopdf opens PDFs with an empty user password itself; anything still encrypted needs one.
    if document.is_encrypted() {
        return Err(ExtractError::EncryptedPdf { path: path.to_path_buf() });
    }
    let pages = document.get_pages();
    if pages.is_empty() {
        return Err(corrupt("it has no pages".to_string()));
    }
    let mut builder = DocumentBuilder::new();
    for (&page_number, &page_id) in &pages {
        let page_text = page_text(&document, page_id).map_err(|error| corrupt(format!("page {page_number}: {error}")))?;
        for paragraph in split_paragraphs(&page_text) {
            builder.push(&paragraph, None, Some(page_number));
        }
    }
    let title = document_title(&document);
    builder.finish(path, DocumentFormat::Pdf, title).map_err(|error| match error {
        ExtractError::NoText { path } if declares_encryption => ExtractError::EncryptedPdf { path },
        ExtractError::NoText { path } => ExtractError::NoTextLayer { path },
        other => other,
    })
}

/// Walks the page's content stream, turning text moves into line and paragraph breaks.
fn page_text(document: &Document, page_id: lopdf::ObjectId) -> Result<String, lopdf::Error> {
    let fonts = document.get_page_fonts(page_id)?;
    let encodings: BTreeMap<Vec<u8>, Encoding<'_>> = fonts
        .into_iter()
        .filter_map(|(name, font)| font.get_font_encoding(document).ok().map(|encoding| (name, encoding)))
        .collect();
    let content = Content::decode(&document.get_page_content(page_id))?;
    let mut text = String::new();
    let mut encoding = None;
    let mut font_size = 12.0_f32;
    let mut line_y: Option<f32> = None;
    for operation in &content.operations {
        let operands = &operation.operands;
        match operation.operator.as_str() {
            "Tf" => {
                encoding = operands.first().and_then(|name| name.as_name().ok()).and_then(|name| encodings.get(name));
                font_size = operands.get(1).and_then(number).map(f32::abs).filter(|size| *size > 0.0).unwrap_or(font_size);
            }
            "Td" | "TD" => {
                let dy = operands.get(1).and_then(number).unwrap_or(0.0);
                break_for_vertical_move(&mut text, dy, font_size);
            }
            "Tm" => {
                let y = operands.get(5).and_then(number).unwrap_or(0.0);
                if let Some(previous) = line_y {
                    break_for_vertical_move(&mut text, y - previous, font_size);
                }
                line_y = Some(y);
            }
            "T*" => text.push('\n'),
            "ET" => push_separator(&mut text, '\n'),
            "Tj" | "'" | "\"" | "TJ" => {
                if operation.operator != "Tj" && operation.operator != "TJ" {
                    push_separator(&mut text, '\n');
                }
                if let Some(encoding) = encoding {
                    show_text(&mut text, encoding, operands);
                }
            }
            _ => {}
        }
    }
    Ok(text)
}

fn show_text(text: &mut String, encoding: &Encoding<'_>, operands: &[Object]) {
    for operand in operands {
        match operand {
            Object::String(bytes, _) => {
                if let Ok(decoded) = Document::decode_text(encoding, bytes) {
                    text.push_str(&decoded);
                }
            }
            Object::Array(items) => show_text(text, encoding, items),
            other => {
                if number(other).is_some_and(|kerning| kerning < WORD_GAP_KERNING) {
                    push_separator(text, ' ');
                }
            }
        }
    }
}

fn break_for_vertical_move(text: &mut String, dy: f32, font_size: f32) {
    if dy.abs() > PARAGRAPH_GAP_IN_FONT_SIZES * font_size {
        push_separator(text, '\n');
        text.push('\n');
    } else if dy != 0.0 {
        push_separator(text, '\n');
    } else {
        push_separator(text, ' ');
    }
}

/// Adds a separator unless the text already ends in whitespace.
fn push_separator(text: &mut String, separator: char) {
    if !text.is_empty() && !text.ends_with(char::is_whitespace) {
        text.push(separator);
    }
}

fn number(object: &Object) -> Option<f32> {
    match object {
        Object::Integer(value) => Some(*value as f32),
        Object::Real(value) => Some(*value),
        _ => None,
    }
}

fn document_title(document: &Document) -> Option<String> {
    let info = document.trailer.get(b"Info").ok()?.as_reference().ok()?;
    let title = document.get_dictionary(info).ok()?.get(b"Title").ok()?;
    lopdf::decode_text_string(title).ok()
}
