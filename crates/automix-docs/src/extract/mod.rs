//! Turning a file's bytes into ordered text blocks with page and heading information.

mod docx;
mod html;
mod markdown;
pub mod ocr;
mod pdf;
mod text;
pub mod worker;

pub use pdf::rasterise_page;
pub use worker::{serve_if_asked, DocumentReader};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Why one file could not be turned into text; each variant says what the user can do about it.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is empty (0 bytes); there is nothing to index")]
    Empty { path: PathBuf },
    #[error("{path} is {size} bytes, over the {limit}-byte limit; raise the size limit (--max-size) to index it")]
    TooLarge { path: PathBuf, size: u64, limit: u64 },
    #[error("{path} is a binary file, not a supported document (PDF, DOCX, Markdown, HTML, text, or an image of pages)")]
    Binary { path: PathBuf },
    #[error("{path} is a password-protected PDF; save an unprotected copy and add that instead")]
    EncryptedPdf { path: PathBuf },
    #[error("{path} has no text layer (scanned or image-only PDF), and OCR found no words on its pages")]
    NoTextLayer { path: PathBuf },
    #[error("{path}: page {page} needs OCR: {source}")]
    Ocr { path: PathBuf, page: u32, source: ocr::OcrError },
    #[error("{path} is not a readable {format} file ({reason}); re-export or repair it")]
    Corrupt { path: PathBuf, format: DocumentFormat, reason: String },
    #[error("{path} contains no text")]
    NoText { path: PathBuf },
    #[error("cannot read the PDF {path}: {reason}")]
    PdfEngineMissing { path: PathBuf, reason: String },
    #[error("{path} needed more than {limit_mib} MiB of memory to read and was stopped (a damaged or hostile file?); the other files are indexed")]
    ReaderOutOfMemory { path: PathBuf, limit_mib: u64 },
    #[error("{path} was stopped after {seconds} s without reading a page (a damaged or hostile file?); the other files are indexed")]
    ReaderTimedOut { path: PathBuf, seconds: u64 },
    #[error("the document reader failed on {path}: {reason}")]
    ReaderFailed { path: PathBuf, reason: String },
    /// An error the worker process met, with its code and message as it reported them.
    #[error("{message}")]
    Reported { path: PathBuf, code: &'static str, message: String },
}

impl ExtractError {
    /// A stable identifier for the kind of failure, for reports and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ExtractError::Io { .. } => "io",
            ExtractError::Empty { .. } => "empty",
            ExtractError::TooLarge { .. } => "too_large",
            ExtractError::Binary { .. } => "binary",
            ExtractError::EncryptedPdf { .. } => "encrypted_pdf",
            ExtractError::NoTextLayer { .. } => "no_text_layer",
            ExtractError::Ocr { source: ocr::OcrError::EngineMissing(_), .. } => "ocr_missing",
            ExtractError::Ocr { source: ocr::OcrError::LanguageMissing { .. }, .. } => "ocr_language_missing",
            ExtractError::Ocr { source: ocr::OcrError::HeicDecoderMissing(_), .. } => "heic_decoder_missing",
            ExtractError::Ocr { .. } => "ocr_failed",
            ExtractError::Corrupt { .. } => "corrupt",
            ExtractError::NoText { .. } => "no_text",
            ExtractError::PdfEngineMissing { .. } => "pdf_engine_missing",
            ExtractError::ReaderOutOfMemory { .. } => "reader_out_of_memory",
            ExtractError::ReaderTimedOut { .. } => "reader_timed_out",
            ExtractError::ReaderFailed { .. } => "reader_failed",
            ExtractError::Reported { code, .. } => code,
        }
    }

    /// The stable code among [`ExtractError::code`]'s named `name` (a worker's report), or
    /// `reader_failed` for one this build does not know.
    pub(crate) fn known_code(name: &str) -> &'static str {
        const CODES: [&str; 16] = [
            "io",
            "empty",
            "too_large",
            "binary",
            "encrypted_pdf",
            "no_text_layer",
            "ocr_missing",
            "ocr_language_missing",
            "ocr_failed",
            "heic_decoder_missing",
            "corrupt",
            "no_text",
            "pdf_engine_missing",
            "reader_out_of_memory",
            "reader_timed_out",
            "reader_failed",
        ];
        CODES.into_iter().find(|code| *code == name).unwrap_or("reader_failed")
    }
}

/// The file formats the library can index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum DocumentFormat {
    Pdf,
    Docx,
    Markdown,
    Html,
    Text,
    /// A scan or photo of pages (PNG, JPEG, TIFF), read by OCR.
    Image,
}

impl DocumentFormat {
    /// The lowercase name stored in the library and shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "pdf",
            DocumentFormat::Docx => "docx",
            DocumentFormat::Markdown => "markdown",
            DocumentFormat::Html => "html",
            DocumentFormat::Text => "text",
            DocumentFormat::Image => "image",
        }
    }

    /// Parses the name written by [`DocumentFormat::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pdf, Self::Docx, Self::Markdown, Self::Html, Self::Text, Self::Image].into_iter().find(|format| format.as_str() == name)
    }

    /// The format a file extension names, if it is one the library reads.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        match extension.as_str() {
            "pdf" => Some(Self::Pdf),
            "docx" => Some(Self::Docx),
            "md" | "markdown" | "mdown" | "mkd" => Some(Self::Markdown),
            "html" | "htm" | "xhtml" => Some(Self::Html),
            "txt" | "text" | "rst" | "org" | "log" | "csv" | "tsv" => Some(Self::Text),
            // PNM is what `scanimage` writes.
            // HEIC/HEIF is what phones take photos in.
            "png" | "jpg" | "jpeg" | "tif" | "tiff" | "pnm" | "pgm" | "ppm" | "pbm" | "heic" | "heif" => Some(Self::Image),
            _ => None,
        }
    }
}

impl std::fmt::Display for DocumentFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One paragraph-like unit of a document, in reading order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    /// Heading level (1 = top) when the block is a heading.
    pub heading_level: Option<u8>,
    /// 1-based physical page number, for paged formats.
    pub page: Option<u32>,
    /// The page's printed label ("vii", "19") where the document defines labels that differ from
    /// the physical number; None otherwise.
    pub page_label: Option<String>,
    /// Byte range of the block inside [`ExtractedDocument::text`].
    pub byte_range: std::ops::Range<usize>,
    /// The page's mean OCR word confidence (0–100) when its text was read by OCR.
    pub ocr_confidence: Option<f32>,
}

/// A document's text plus its block structure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtractedDocument {
    pub title: String,
    pub format: DocumentFormat,
    /// All blocks joined by blank lines; chunk offsets refer to this text.
    pub text: String,
    pub blocks: Vec<Block>,
}

impl ExtractedDocument {
    /// The text of one block.
    pub fn block_text(&self, block: &Block) -> &str {
        &self.text[block.byte_range.clone()]
    }
}

/// Accumulates blocks into one text, trimming whitespace and dropping empty blocks.
pub(crate) struct DocumentBuilder {
    text: String,
    blocks: Vec<Block>,
    first_heading: Option<String>,
}

impl DocumentBuilder {
    pub(crate) fn new() -> Self {
        DocumentBuilder { text: String::new(), blocks: Vec::new(), first_heading: None }
    }

    pub(crate) fn push(&mut self, raw: &str, heading_level: Option<u8>, page: Option<u32>) {
        self.push_block(raw, heading_level, page, None);
    }

    /// A paragraph of a PDF page, with the page's label when it has one.
    pub(crate) fn push_page(&mut self, raw: &str, page: u32, page_label: Option<&str>) {
        self.push_block(raw, None, Some(page), page_label.map(str::to_string));
    }

    /// A paragraph read by OCR from `page`, whose words were `confidence` sure on average.
    pub(crate) fn push_ocr_page(&mut self, raw: &str, page: u32, page_label: Option<&str>, confidence: f32) {
        self.push_block(raw, None, Some(page), page_label.map(str::to_string));
        if let Some(block) = self.blocks.last_mut().filter(|block| block.page == Some(page)) {
            block.ocr_confidence = Some(confidence);
        }
    }

    fn push_block(&mut self, raw: &str, heading_level: Option<u8>, page: Option<u32>, page_label: Option<String>) {
        let collapsed = collapse_inline_whitespace(raw);
        if collapsed.is_empty() {
            return;
        }
        if heading_level.is_some() && self.first_heading.is_none() {
            self.first_heading = Some(collapsed.clone());
        }
        if !self.text.is_empty() {
            self.text.push_str("\n\n");
        }
        let start = self.text.len();
        self.text.push_str(&collapsed);
        self.blocks.push(Block { heading_level, page, page_label, byte_range: start..self.text.len(), ocr_confidence: None });
    }

    pub(crate) fn finish(self, path: &Path, format: DocumentFormat, explicit_title: Option<String>) -> Result<ExtractedDocument, ExtractError> {
        if self.blocks.is_empty() {
            return Err(ExtractError::NoText { path: path.to_path_buf() });
        }
        let title = explicit_title
            .map(|title| collapse_inline_whitespace(&title))
            .filter(|title| !title.is_empty())
            .or(self.first_heading)
            .unwrap_or_else(|| file_stem(path));
        Ok(ExtractedDocument { title, format, text: self.text, blocks: self.blocks })
    }
}

fn file_stem(path: &Path) -> String {
    path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Collapses runs of spaces and tabs and trims each line, keeping single line breaks.
fn collapse_inline_whitespace(raw: &str) -> String {
    let mut lines = Vec::new();
    for line in raw.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if !words.is_empty() {
            lines.push(words.join(" "));
        }
    }
    lines.join("\n")
}

/// How far the reading of one file has come: pages done of all its pages, and how many of the
/// done ones were read by OCR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PageProgress {
    pub done: u32,
    pub total: u32,
    pub ocr: u32,
}

/// What a long read reports and keeps as it goes.
pub struct ReadContext<'a> {
    /// Called after each page of a paged document.
    pub on_page: &'a mut dyn FnMut(PageProgress),
    /// A folder for this file's OCR'd pages: each is written there once read and taken from
    /// there instead of being read again, so an interrupted read resumes.
    pub ocr_cache: Option<&'a Path>,
    /// The languages OCR reads (`eng+rus`); None for the default.
    pub ocr_languages: Option<&'a str>,
}

/// Extracts a file's text. `format` comes from [`detect_format`].
pub fn extract(path: &Path, bytes: &[u8], format: DocumentFormat) -> Result<ExtractedDocument, ExtractError> {
    extract_with(path, bytes, format, &mut ReadContext { on_page: &mut |_| {}, ocr_cache: None, ocr_languages: None })
}

/// [`extract`], reporting pages and keeping OCR'd ones as `context` asks.
pub fn extract_with(path: &Path, bytes: &[u8], format: DocumentFormat, context: &mut ReadContext<'_>) -> Result<ExtractedDocument, ExtractError> {
    match format {
        DocumentFormat::Pdf => pdf::extract(path, bytes, context),
        DocumentFormat::Docx => docx::extract(path, bytes),
        DocumentFormat::Markdown => markdown::extract(path, &text::decode(path, bytes)?),
        DocumentFormat::Html => html::extract(path, &text::decode(path, bytes)?),
        DocumentFormat::Text => text::extract(path, bytes),
        DocumentFormat::Image => extract_image(path, is_heif(bytes), context),
    }
}

/// An ISO media file of the HEIF family (HEIC photos): `ftyp` and one of its brands.
fn is_heif(bytes: &[u8]) -> bool {
    const BRANDS: [&[u8]; 8] = [b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"];
    bytes.get(4..8) == Some(b"ftyp".as_slice()) && bytes.get(8..12).is_some_and(|brand| BRANDS.contains(&brand))
}

/// A scan or photo: every page by OCR, orientation found by Tesseract. A HEIC photo is decoded
/// to PNG first, since Tesseract does not read HEIC.
fn extract_image(path: &Path, heif: bool, context: &mut ReadContext<'_>) -> Result<ExtractedDocument, ExtractError> {
    let ocr_error = |source| ExtractError::Ocr { path: path.to_path_buf(), page: 1, source };
    let ocr = ocr::Ocr::new(context.ocr_languages).map_err(ocr_error)?;
    let pages = if heif {
        let folder = std::env::temp_dir().join(format!(
            "automix-heif-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |time| time.as_nanos())
        ));
        let read = std::fs::create_dir_all(&folder)
            .map_err(|error| ocr::OcrError::Failed(format!("cannot make {}: {error}", folder.display())))
            .and_then(|()| ocr::heif_to_png(path, &folder))
            .and_then(|images| {
                let mut pages = Vec::new();
                for (index, image) in images.iter().enumerate() {
                    for mut page in ocr.recognise(image, true)? {
                        page.number = u32::try_from(index + 1).unwrap_or(u32::MAX);
                        pages.push(page);
                    }
                }
                Ok(pages)
            });
        let _ = std::fs::remove_dir_all(&folder);
        read.map_err(ocr_error)?
    } else {
        ocr.recognise(path, true).map_err(ocr_error)?
    };
    let count = u32::try_from(pages.len()).unwrap_or(u32::MAX);
    (context.on_page)(PageProgress { done: count, total: count, ocr: count });
    let mut builder = DocumentBuilder::new();
    for page in &pages {
        for paragraph in &page.paragraphs {
            builder.push_ocr_page(paragraph, page.number, None, page.mean_confidence);
        }
    }
    builder.finish(path, DocumentFormat::Image, None).map_err(|error| match error {
        ExtractError::NoText { path } => ExtractError::NoTextLayer { path },
        other => other,
    })
}

/// Picks the format from the file's leading bytes, falling back to its extension; text otherwise.
pub fn detect_format(path: &Path, bytes: &[u8]) -> DocumentFormat {
    if bytes.starts_with(b"%PDF-") {
        return DocumentFormat::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return DocumentFormat::Docx;
    }
    if bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"\xFF\xD8\xFF") || bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") || is_heif(bytes) {
        return DocumentFormat::Image;
    }
    DocumentFormat::from_extension(path).unwrap_or(DocumentFormat::Text)
}

/// Reads a file to be indexed, rejecting empty and over-size files before reading them whole.
pub fn read_document_bytes(path: &Path, max_file_bytes: u64) -> Result<Vec<u8>, ExtractError> {
    let io_error = |source| ExtractError::Io { path: path.to_path_buf(), source };
    let size = std::fs::metadata(path).map_err(io_error)?.len();
    if size == 0 {
        return Err(ExtractError::Empty { path: path.to_path_buf() });
    }
    if size > max_file_bytes {
        return Err(ExtractError::TooLarge { path: path.to_path_buf(), size, limit: max_file_bytes });
    }
    std::fs::read(path).map_err(io_error)
}
