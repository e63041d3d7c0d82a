//! Where a passage comes from: the document, its pages (physical and as printed) and section, and
//! the character range in the document's extracted text. Retrieval produces it, the history
//! stores it with each answer, the UI opens the passage from it.

use serde::{Deserialize, Serialize};

/// The place in a document that a retrieved passage (and a citation of it) points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct SourceLocation {
    /// Ids are i64 in SQLite and numbers (below 2^53) on the wire.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub document_id: i64,
    pub path: String,
    pub title: String,
    /// Physical page numbers (1-based), as a PDF viewer counts them.
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    /// The page labels printed on those pages ("xii", "19"), where the document defines labels
    /// that differ from the physical numbers (absent in rows stored before labels were read).
    #[serde(default)]
    pub page_label_start: Option<String>,
    #[serde(default)]
    pub page_label_end: Option<String>,
    pub section: Option<String>,
    /// How sure OCR was of the passage's text (the lowest mean word confidence, 0–100, among its
    /// pages that were read by OCR); None when every page had a text layer.
    #[serde(default)]
    pub ocr_confidence: Option<u8>,
    /// Character range of the passage in the document's extracted text.
    pub char_start: usize,
    pub char_end: usize,
}

impl SourceLocation {
    /// "p. 19 (PDF page 26)", "pp. 3–4": the pages as printed, with the physical page numbers
    /// where the printed labels differ from them; None for formats without pages.
    pub fn pages(&self) -> Option<String> {
        let start = self.page_start?;
        let end = self.page_end.unwrap_or(start).max(start);
        let (prefix, physical) = if end > start { ("pp.", format!("{start}–{end}")) } else { ("p.", start.to_string()) };
        if self.page_label_start.is_none() && self.page_label_end.is_none() {
            return Some(format!("{prefix} {physical}"));
        }
        let label = |label: &Option<String>, page: u32| label.clone().unwrap_or_else(|| page.to_string());
        let printed = if end > start {
            format!("{}–{}", label(&self.page_label_start, start), label(&self.page_label_end, end))
        } else {
            label(&self.page_label_start, start)
        };
        let pdf_pages = if end > start { "PDF pages" } else { "PDF page" };
        Some(format!("{prefix} {printed} ({pdf_pages} {physical})"))
    }

    /// "read by OCR, 93% sure" for a passage whose text came from OCR.
    pub fn ocr_note(&self) -> Option<String> {
        self.ocr_confidence.map(|confidence| format!("read by OCR, {confidence}% sure"))
    }

    /// "Title, p. 19 (PDF page 26), § Section": how a passage is labelled where it leaves the
    /// device (a remote payload), without the file's path, which names folders and often the user.
    /// A passage read by OCR says so ("p. 3, read by OCR, 88% sure"): its words may be misread.
    pub fn reference(&self) -> String {
        let mut text = self.title.clone();
        if let Some(pages) = self.pages() {
            text.push_str(&format!(", {pages}"));
        }
        if let Some(note) = self.ocr_note() {
            text.push_str(&format!(", {note}"));
        }
        if let Some(section) = &self.section {
            text.push_str(&format!(", § {section}"));
        }
        text
    }
}

/// "Title, p. 19 (PDF page 26), § Section (path, chars 10–20)".
impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}, chars {}–{})", self.reference(), self.path, self.char_start, self.char_end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_name_printed_page_labels_next_to_physical_pages() {
        let location = |start, end, label_start: Option<&str>, label_end: Option<&str>| SourceLocation {
            document_id: 1,
            path: "/a.pdf".into(),
            title: "A".into(),
            page_start: start,
            page_end: end,
            page_label_start: label_start.map(str::to_string),
            page_label_end: label_end.map(str::to_string),
            ocr_confidence: None,
            section: None,
            char_start: 0,
            char_end: 1,
        };
        assert_eq!(location(Some(26), Some(26), Some("19"), Some("19")).pages().as_deref(), Some("p. 19 (PDF page 26)"));
        assert_eq!(location(Some(3), Some(4), Some("iii"), Some("iv")).pages().as_deref(), Some("pp. iii–iv (PDF pages 3–4)"));
        assert_eq!(location(Some(5), Some(5), None, None).pages().as_deref(), Some("p. 5"));
        assert_eq!(location(Some(5), Some(6), None, None).pages().as_deref(), Some("pp. 5–6"));
        assert_eq!(location(None, None, None, None).pages(), None);
        assert_eq!(location(Some(26), Some(26), Some("19"), Some("19")).to_string(), "A, p. 19 (PDF page 26) (/a.pdf, chars 0–1)");
        let scanned = SourceLocation { ocr_confidence: Some(88), ..location(Some(3), Some(3), None, None) };
        assert_eq!(scanned.reference(), "A, p. 3, read by OCR, 88% sure");
    }

    #[test]
    fn rows_stored_before_page_labels_read_back() {
        let old = r#"{"document_id":3,"path":"/m.pdf","title":"M","page_start":2,"page_end":2,"section":null,"char_start":5,"char_end":9}"#;
        let location: SourceLocation = serde_json::from_str(old).unwrap();
        assert_eq!((location.page_label_start, location.char_end), (None, 9));
    }
}
