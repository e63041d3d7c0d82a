//! PDF text through PDFium, one page at a time, so every block knows its physical page and the
//! page label a reader sees.
//!
//! PDFium (Chromium's PDF engine) was chosen by measurement against poppler's pdftotext on real
//! PDFs (docs/pdf-extraction.md): it reads /ToUnicode before the font encoding, ships the Adobe
//! CJK CMaps, handles Type 3 fonts and form XObjects, places word spaces from glyph positions and
//! drops overprinted duplicates. What stays here: turning its lines into paragraphs (`layout`),
//! page labels, and a clear error for each way a file cannot be read.

mod engine;
mod layout;
mod noise;

use std::path::Path;

use pdfium_render::prelude::{
    PdfBitmapFormat, PdfDocument, PdfDocumentMetadataTagType, PdfPage, PdfPageTextChars, PdfRenderConfig, PdfiumError, PdfiumInternalError,
};

use self::layout::{Glyph, Line};
use super::ocr::{self, GrayImage};
use super::{DocumentBuilder, DocumentFormat, ExtractError, ExtractedDocument, PageProgress, ReadContext};

/// The resolution a page without text is rendered at for OCR (Tesseract reads best at 300 dpi).
const OCR_DPI: f32 = 300.0;
/// A page rendered for OCR is at most this wide (a poster-sized page would otherwise take GBs).
const OCR_MAX_WIDTH: i32 = 5000;

pub(crate) fn extract(path: &Path, bytes: &[u8], context: &mut ReadContext<'_>) -> Result<ExtractedDocument, ExtractError> {
    let corrupt = |reason: String| ExtractError::Corrupt { path: path.to_path_buf(), format: DocumentFormat::Pdf, reason };
    let declares_encryption = bytes.windows(8).any(|window| window == b"/Encrypt");
    let pdfium = engine::lock().map_err(|reason| ExtractError::PdfEngineMissing { path: path.to_path_buf(), reason })?;
    let document = match pdfium.load_pdf_from_byte_slice(bytes, None) {
        Ok(document) => document,
        Err(PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::PasswordError)) => {
            return Err(ExtractError::EncryptedPdf { path: path.to_path_buf() })
        }
        Err(_) if declares_encryption => return Err(ExtractError::EncryptedPdf { path: path.to_path_buf() }),
        Err(error) => return Err(corrupt(describe(&error))),
    };
    let page_count = document.pages().len();
    if page_count == 0 {
        return Err(corrupt("it has no pages".to_string()));
    }
    let mut builder = DocumentBuilder::new();
    // Made at the first page without text, and kept for the document's other pages.
    let mut engine: Option<ocr::Ocr> = None;
    let mut progress = PageProgress { done: 0, total: u32::try_from(page_count).unwrap_or(0), ocr: 0 };
    for (index, page) in document.pages().iter().enumerate() {
        let physical = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let label = page_label(&page, physical);
        let lines = page_lines(&page).map_err(|error| corrupt(format!("page {physical}: {}", describe(&error))))?;
        // A page without a printed glyph is a scan (or blank, and OCR finds it empty); one whose
        // text layer is noise is read by OCR too.
        let layer = lines.iter().any(|line| line.baseline.is_some()).then(|| layout::paragraphs(&lines));
        let noise_share = layer.as_ref().and_then(|paragraphs| noise::noise_share(&paragraphs.join("\n")));
        match layer {
            Some(paragraphs) if !noise_share.is_some_and(noise::is_noise_share) => {
                for paragraph in &paragraphs {
                    builder.push_page(paragraph, physical, label.as_deref());
                }
            }
            layer => {
                let ocr_error = |source| ExtractError::Ocr { path: path.to_path_buf(), page: physical, source };
                let read = match &engine {
                    Some(ocr) => Ok(ocr),
                    None => ocr::Ocr::new(context.ocr_languages).map(|ocr| &*engine.insert(ocr)),
                }
                .map_err(OcrFailure::from)
                .and_then(|ocr| read_page_by_ocr(ocr, &page, physical, context.ocr_cache));
                let read = match (read, layer) {
                    (Ok(read), None) => Ok(read),
                    (Err(OcrFailure::Ocr(error)), None) => Err(ocr_error(error)),
                    (Err(OcrFailure::Render(error)), None) => Err(corrupt(format!("page {physical} cannot be rendered for OCR: {}", describe(&error)))),
                    // A noisy text layer is the page's text unless OCR reads it better.
                    (read, Some(paragraphs)) => match read {
                        Ok(read) if reads_better(&read, noise_share) => Ok(read),
                        other => {
                            if let Err(failure) = other {
                                tracing::warn!(page = physical, %failure, "a page whose text layer looks like noise could not be read by OCR; its layer is kept");
                            }
                            for paragraph in &paragraphs {
                                builder.push_page(paragraph, physical, label.as_deref());
                            }
                            progress.done += 1;
                            (context.on_page)(progress);
                            continue;
                        }
                    },
                }?;
                tracing::debug!(page = physical, words = read.words, confidence = read.mean_confidence, "page read by OCR");
                for paragraph in &read.paragraphs {
                    builder.push_ocr_page(paragraph, physical, label.as_deref(), read.mean_confidence);
                }
                progress.ocr += 1;
            }
        }
        progress.done += 1;
        (context.on_page)(progress);
    }
    let title = document_title(&document);
    builder.finish(path, DocumentFormat::Pdf, title).map_err(|error| match error {
        ExtractError::NoText { path } if declares_encryption => ExtractError::EncryptedPdf { path },
        ExtractError::NoText { path } => ExtractError::NoTextLayer { path },
        other => other,
    })
}

/// Why a page could not be read by OCR.
#[derive(Debug, thiserror::Error)]
enum OcrFailure {
    #[error("{0}")]
    Ocr(#[from] ocr::OcrError),
    #[error("the page cannot be rendered: {0}")]
    Render(PdfiumError),
}

/// One page read by OCR: from `ocr_cache` where an earlier, interrupted read kept it, else
/// rendered at [`OCR_DPI`] and recognised, and kept there for the next interrupted read.
fn read_page_by_ocr(ocr: &ocr::Ocr, page: &PdfPage<'_>, physical: u32, ocr_cache: Option<&Path>) -> Result<ocr::OcrPage, OcrFailure> {
    let kept = ocr_cache.map(|folder| folder.join(format!("page-{physical}-{}.json", ocr.languages())));
    if let Some(read) = kept.as_deref().and_then(|file| std::fs::read(file).ok()).and_then(|json| serde_json::from_slice::<ocr::OcrPage>(&json).ok()) {
        return Ok(read);
    }
    let image = render_gray(page, OCR_DPI).map_err(OcrFailure::Render)?;
    let read = ocr.recognise_gray(&image)?;
    if let Some(file) = &kept {
        keep_ocr_page(file, &read);
    }
    Ok(read)
}

/// Whether OCR's reading of a page beats a text layer with this share of noise: OCR was fairly
/// sure of it and it has less noise.
fn reads_better(read: &ocr::OcrPage, layer_noise_share: Option<f32>) -> bool {
    let read_share = noise::noise_share(&read.paragraphs.join("\n")).unwrap_or(0.0);
    read.words > 0 && read.mean_confidence >= 50.0 && layer_noise_share.is_none_or(|layer| read_share < layer)
}

/// Writes an OCR'd page where a resumed read finds it; a page that cannot be kept is read again
/// next time, nothing worse.
fn keep_ocr_page(file: &Path, read: &ocr::OcrPage) {
    let kept = file.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| {
        let partial = file.with_extension("partial");
        std::fs::write(&partial, serde_json::to_vec(read).unwrap_or_default())?;
        std::fs::rename(&partial, file)
    });
    if let Err(error) = kept {
        tracing::warn!(file = %file.display(), %error, "an OCR'd page could not be kept for a resumed read");
    }
}

/// Renders one page of a PDF in greyscale at `dpi` (capped at a width of 5000 pixels): what OCR
/// reads, and what a scorer compares against the page's own text.
pub fn rasterise_page(bytes: &[u8], page_index: u16, dpi: f32) -> Result<GrayImage, String> {
    let pdfium = engine::lock()?;
    let document = pdfium.load_pdf_from_byte_slice(bytes, None).map_err(|error| describe(&error))?;
    let page = document.pages().get(i32::from(page_index)).map_err(|error| describe(&error))?;
    render_gray(&page, dpi).map_err(|error| describe(&error))
}

fn render_gray(page: &PdfPage<'_>, dpi: f32) -> Result<GrayImage, PdfiumError> {
    let width = ((page.width().value / 72.0 * dpi).round() as i32).clamp(1, OCR_MAX_WIDTH);
    // Rendered in colour and turned grey here: PDFium's own greyscale bitmaps trip its checks.
    let config = PdfRenderConfig::new().set_target_width(width).render_form_data(false);
    let bitmap = page.render_with_config(&config)?;
    let (width, height) = (bitmap.width().max(0) as usize, bitmap.height().max(0) as usize);
    let bytes = bitmap.as_raw_bytes();
    let stride = bytes.len().checked_div(height).unwrap_or(0);
    let channels = match bitmap.format()? {
        PdfBitmapFormat::Gray => 1,
        PdfBitmapFormat::BGR => 3,
        PdfBitmapFormat::BGRx | PdfBitmapFormat::BGRA => 4,
    };
    let mut pixels = Vec::with_capacity(width * height);
    for row in 0..height {
        let line = &bytes[row * stride..row * stride + width * channels];
        match channels {
            1 => pixels.extend_from_slice(line),
            _ => pixels.extend(line.chunks_exact(channels).map(|px| ((px[0] as u32 * 29 + px[1] as u32 * 150 + px[2] as u32 * 77) >> 8) as u8)),
        }
    }
    Ok(GrayImage { width, height, pixels })
}

/// The page's label from the document's /PageLabels ("iv", "19", "A-3") when it differs from
/// the physical page number, which the block already carries.
fn page_label(page: &PdfPage<'_>, physical: u32) -> Option<String> {
    let label = page.label()?.trim();
    (!label.is_empty() && label != physical.to_string()).then(|| label.to_string())
}

/// The page's characters in PDFium's reading order, cut into lines at the line breaks PDFium
/// generates, each with the baseline and size of its first glyph. Right-to-left lines are
/// rebuilt from glyph positions (`layout::logical_rtl_line`).
fn page_lines(page: &PdfPage<'_>) -> Result<Vec<Line>, PdfiumError> {
    let text = page.text()?;
    let chars = text.chars();
    let mut lines = Vec::new();
    let mut line = Line { text: String::new(), baseline: None, font_size: 0.0 };
    // Character indices of the current line's printed glyphs, for right-to-left lines.
    let mut glyph_indices = Vec::new();
    let mut pending_high_surrogate: Option<u32> = None;
    // The last printed glyph of the line: its character, right edge and baseline.
    let mut previous_glyph: Option<(char, f32, f32)> = None;
    for index in 0..chars.len() {
        let ch = chars.get(index)?;
        let value = ch.unicode_value();
        let decoded = match value {
            0xD800..=0xDBFF => {
                pending_high_surrogate = Some(value);
                continue;
            }
            0xDC00..=0xDFFF => pending_high_surrogate.take().and_then(|high| char::from_u32(0x10000 + ((high - 0xD800) << 10) + (value - 0xDC00))),
            _ => char::from_u32(value),
        };
        let Some(decoded) = decoded else { continue };
        match decoded {
            '\r' => {}
            '\n' => {
                previous_glyph = None;
                let mut finished = std::mem::replace(&mut line, Line { text: String::new(), baseline: None, font_size: 0.0 });
                reorder_right_to_left(&chars, &mut finished, &std::mem::take(&mut glyph_indices));
                lines.push(finished);
            }
            layout::HYPHENATION_MARK => line.text.push(decoded),
            // Other control characters are glyphs without a Unicode value; they carry no text.
            control if control.is_control() && control != '\t' => {}
            _ => {
                if !decoded.is_whitespace() && !ch.is_generated().unwrap_or(true) {
                    let font_size = ch.scaled_font_size().value.abs();
                    let baseline = ch.origin_y().ok().map(|y| y.value);
                    if line.baseline.is_none() {
                        line.baseline = baseline;
                        line.font_size = font_size;
                    }
                    let bounds = ch.loose_bounds().ok().map(|bounds| (bounds.left().value, bounds.right().value));
                    if let (Some((previous_char, previous_right, previous_baseline)), Some((left, _)), Some(baseline)) = (previous_glyph, bounds, baseline) {
                        let touching = !line.text.ends_with(|c: char| c.is_whitespace() || c == layout::HYPHENATION_MARK);
                        if touching && layout::missing_space(previous_char, decoded, left - previous_right, baseline - previous_baseline, font_size) {
                            line.text.push(' ');
                        }
                    }
                    previous_glyph = bounds.zip(baseline).map(|((_, right), baseline)| (decoded, right, baseline));
                    glyph_indices.push((decoded, index));
                }
                line.text.push(decoded);
            }
        }
    }
    reorder_right_to_left(&chars, &mut line, &glyph_indices);
    lines.push(line);
    Ok(lines)
}

/// Replaces a mostly Arabic or Hebrew line's text by its glyphs in reading order.
fn reorder_right_to_left(chars: &PdfPageTextChars<'_>, line: &mut Line, glyph_indices: &[(char, usize)]) {
    if !layout::is_right_to_left(&line.text) {
        return;
    }
    let glyphs: Option<Vec<Glyph>> = glyph_indices
        .iter()
        .map(|&(ch, index)| {
            let glyph = chars.get(index).ok()?;
            let bounds = glyph.loose_bounds().ok()?;
            Some(Glyph {
                ch,
                left: bounds.left().value,
                right: bounds.right().value,
                bottom: bounds.bottom().value,
                top: bounds.top().value,
                font_size: glyph.scaled_font_size().value.abs(),
            })
        })
        .collect();
    if let Some(text) = glyphs.as_deref().and_then(layout::logical_rtl_line) {
        line.text = text;
    }
}

fn document_title(document: &PdfDocument<'_>) -> Option<String> {
    document.metadata().get(PdfDocumentMetadataTagType::Title).map(|tag| tag.value().to_string())
}

fn describe(error: &PdfiumError) -> String {
    match error {
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::FormatError) => "PDFium cannot parse it (damaged or not a PDF)".to_string(),
        PdfiumError::PdfiumLibraryInternalError(PdfiumInternalError::SecurityError) => "it uses an unsupported security handler".to_string(),
        other => other.to_string(),
    }
}
