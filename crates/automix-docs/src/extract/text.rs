//! Plain text: encoding detection and paragraph splitting.

use std::path::Path;

use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument};

/// Share of control characters above which decoded text is treated as binary.
const MAX_CONTROL_CHAR_SHARE: f64 = 0.02;

/// Decodes bytes of unknown encoding: BOM first, then UTF-8, then chardetng's guess.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<String, ExtractError> {
    let sample = &bytes[..bytes.len().min(8192)];
    let has_bom = encoding_rs::Encoding::for_bom(bytes).is_some();
    // UTF-16 text without a BOM is rare; NUL bytes otherwise mean a binary file.
    if !has_bom && sample.contains(&0) {
        return Err(ExtractError::Binary { path: path.to_path_buf() });
    }
    let encoding = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, _)) => encoding,
        None if std::str::from_utf8(bytes).is_ok() => encoding_rs::UTF_8,
        None => {
            let mut detector = chardetng::EncodingDetector::new();
            detector.feed(bytes, true);
            detector.guess(None, true)
        }
    };
    let (decoded, _, _) = encoding.decode(bytes);
    let total = decoded.chars().take(8192).count().max(1);
    let control = decoded.chars().take(8192).filter(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0c')).count();
    if control as f64 / total as f64 > MAX_CONTROL_CHAR_SHARE {
        return Err(ExtractError::Binary { path: path.to_path_buf() });
    }
    Ok(decoded.into_owned())
}

/// Splits decoded text into paragraphs at blank lines.
pub(crate) fn extract(path: &Path, bytes: &[u8]) -> Result<ExtractedDocument, ExtractError> {
    let decoded = decode(path, bytes)?;
    let mut builder = DocumentBuilder::new();
    for paragraph in split_paragraphs(&decoded) {
        builder.push(&paragraph, None, None);
    }
    builder.finish(path, DocumentFormat::Text, None)
}

/// Paragraphs separated by blank lines; lines inside one paragraph are joined with spaces.
pub(crate) fn split_paragraphs(text: &str) -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs
}
