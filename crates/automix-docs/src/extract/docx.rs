//! DOCX: the zip's word/document.xml read with quick-xml; paragraph styles give headings.

use std::io::Read;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument};

pub(crate) fn extract(path: &Path, bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let corrupt = |reason: String| ExtractError::Corrupt { path: path.to_path_buf(), format: DocumentFormat::Docx, reason };
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|error| corrupt(format!("not a zip archive: {error}")))?;
    let body = read_entry(&mut archive, "word/document.xml").map_err(corrupt)?;
    let title = read_entry(&mut archive, "docProps/core.xml").ok().and_then(|core| core_title(&core));

    let mut builder = DocumentBuilder::new();
    let mut reader = Reader::from_str(&body);
    let mut paragraph = String::new();
    let mut heading_level: Option<u8> = None;
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(element)) => match element.local_name().as_ref() {
                b"p" => {
                    paragraph.clear();
                    heading_level = None;
                }
                b"t" => in_text = true,
                _ => {}
            },
            Ok(Event::Empty(element)) => match element.local_name().as_ref() {
                b"pStyle" => heading_level = style_heading_level(&element),
                b"tab" => paragraph.push(' '),
                b"br" | b"cr" => paragraph.push('\n'),
                _ => {}
            },
            Ok(Event::Text(text)) if in_text => {
                let decoded = text.decode().map_err(|error| corrupt(format!("bad text in word/document.xml: {error}")))?;
                paragraph.push_str(&decoded);
            }
            Ok(Event::GeneralRef(reference)) if in_text => {
                if let Ok(Some(character)) = reference.resolve_char_ref() {
                    paragraph.push(character);
                } else {
                    let name = reference.decode().unwrap_or_default();
                    paragraph.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
                }
            }
            Ok(Event::End(element)) => match element.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    builder.push(&paragraph, heading_level, None);
                    paragraph.clear();
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(error) => return Err(corrupt(format!("malformed word/document.xml: {error}"))),
        }
    }
    builder.finish(path, DocumentFormat::Docx, title)
}

fn read_entry(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Result<String, String> {
    let mut entry = archive.by_name(name).map_err(|error| format!("missing {name}: {error}"))?;
    let mut content = String::new();
    entry.read_to_string(&mut content).map_err(|error| format!("cannot read {name}: {error}"))?;
    Ok(content)
}

/// "Heading1".."Heading9" and "Title" styles (Word's built-in ids) mark headings.
fn style_heading_level(element: &BytesStart<'_>) -> Option<u8> {
    let value = element
        .attributes()
        .flatten()
        .find(|attribute| attribute.key.local_name().as_ref() == b"val")
        .map(|attribute| String::from_utf8_lossy(&attribute.value).to_ascii_lowercase())?;
    if value == "title" {
        return Some(1);
    }
    value.strip_prefix("heading")?.trim().parse::<u8>().ok()
}

fn core_title(core: &str) -> Option<String> {
    let mut reader = Reader::from_str(core);
    let mut in_title = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(element) if element.local_name().as_ref() == b"title" => in_title = true,
            Event::Text(text) if in_title => return text.decode().ok().map(|title| title.into_owned()),
            Event::Eof => return None,
            _ => {}
        }
    }
}
