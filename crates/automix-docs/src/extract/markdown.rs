//! Markdown via pulldown-cmark: headings, paragraphs, list items, code blocks and table rows.

use std::path::Path;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument};

pub(crate) fn extract(path: &Path, source: &str) -> Result<ExtractedDocument, ExtractError> {
    let mut builder = DocumentBuilder::new();
    let mut current = String::new();
    let mut heading: Option<u8> = None;
    for event in Parser::new_ext(source, pulldown_cmark::Options::ENABLE_TABLES) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut builder, &mut current, None);
                heading = Some(heading_number(level));
            }
            Event::End(TagEnd::Heading(_)) => {
                flush(&mut builder, &mut current, heading.take());
            }
            Event::Start(Tag::Item) | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::CodeBlock | TagEnd::TableRow | TagEnd::TableHead) => {
                flush(&mut builder, &mut current, None);
            }
            Event::End(TagEnd::TableCell) => current.push_str(" | "),
            Event::Text(text) | Event::Code(text) => current.push_str(&text),
            Event::SoftBreak => current.push(' '),
            Event::HardBreak => current.push('\n'),
            _ => {}
        }
    }
    flush(&mut builder, &mut current, None);
    builder.finish(path, DocumentFormat::Markdown, None)
}

fn flush(builder: &mut DocumentBuilder, current: &mut String, heading_level: Option<u8>) {
    builder.push(current, heading_level, None);
    current.clear();
}

fn heading_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}
