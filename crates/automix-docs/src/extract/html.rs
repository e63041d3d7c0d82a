//! HTML via scraper (html5ever): block elements become blocks, h1–h6 become headings.

use std::path::Path;

use scraper::{Html, Node, Selector};

use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument};

/// Elements whose text never reaches the reader.
const SKIPPED: &[&str] = &["script", "style", "noscript", "template", "head", "svg", "nav"];

/// Elements that start a new block of text.
const BLOCK_LEVEL: &[&str] = &[
    "p",
    "div",
    "li",
    "pre",
    "blockquote",
    "td",
    "th",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "section",
    "article",
    "header",
    "footer",
    "aside",
    "main",
    "table",
    "ul",
    "ol",
    "br",
    "hr",
    "caption",
];

pub(crate) fn extract(path: &Path, source: &str) -> Result<ExtractedDocument, ExtractError> {
    let document = Html::parse_document(source);
    let title = Selector::parse("title").ok().and_then(|selector| document.select(&selector).next().map(|title| title.text().collect::<String>()));
    let mut walker = Walker { builder: DocumentBuilder::new(), current: String::new() };
    walker.visit(*document.root_element());
    walker.flush(None);
    walker.builder.finish(path, DocumentFormat::Html, title)
}

struct Walker {
    builder: DocumentBuilder,
    current: String,
}

impl Walker {
    fn visit(&mut self, node: ego_tree::NodeRef<'_, Node>) {
        match node.value() {
            Node::Text(text) => self.current.push_str(&text[..]),
            Node::Element(element) => {
                let name = element.name();
                if SKIPPED.contains(&name) {
                    return;
                }
                let heading_level = heading_level(name);
                let is_block = heading_level.is_some() || BLOCK_LEVEL.contains(&name);
                if is_block {
                    self.flush(None);
                }
                for child in node.children() {
                    self.visit(child);
                }
                if is_block {
                    self.flush(heading_level);
                }
            }
            _ => {
                for child in node.children() {
                    self.visit(child);
                }
            }
        }
    }

    fn flush(&mut self, heading_level: Option<u8>) {
        // Inside HTML, line breaks in the source are just spaces.
        let text = self.current.split_whitespace().collect::<Vec<_>>().join(" ");
        self.builder.push(&text, heading_level, None);
        self.current.clear();
    }
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}
