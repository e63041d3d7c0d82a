//! Text from images by OCR: Tesseract 5 (Debian's `tesseract-ocr` and its language packs), run as
//! a child process with a time limit and an address-space limit, so one hostile or huge image
//! costs at most that and fails alone. Its TSV output gives each word with its box, line,
//! paragraph and confidence; the words are kept in Tesseract's reading order, paragraph by
//! paragraph, with each page's mean word confidence.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Overrides the `tesseract` found on `PATH`.
pub const TESSERACT_ENV: &str = "AUTOMIX_TESSERACT";
/// Overrides the OCR languages (Tesseract's codes joined by `+`, e.g. `eng+rus`).
pub const OCR_LANGUAGES_ENV: &str = "AUTOMIX_OCR_LANGUAGES";
/// How long one image may take.
pub const OCR_TIME_LIMIT: Duration = Duration::from_secs(120);
/// The most address space the OCR process may take (Tesseract needs about 200 MB for a page).
const OCR_MEMORY_LIMIT_BYTES: u64 = 2 << 30;

/// Why an image could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OcrError {
    #[error("the OCR engine is not installed ({0}); install Debian's tesseract-ocr package (`make deps` does)")]
    EngineMissing(String),
    #[error("the OCR language pack for `{language}` is not installed; install the {package} package")]
    LanguageMissing { language: String, package: String },
    #[error("HEIC photos need libheif's decoder ({0}); install Debian's libheif-examples package (`make deps` does), or export the photo as JPEG")]
    HeicDecoderMissing(String),
    #[error("OCR took longer than {0} s and was stopped")]
    TimedOut(u64),
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// One page as read by OCR.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OcrPage {
    /// 1-based, in the image file (a multi-page TIFF has several).
    pub number: u32,
    pub paragraphs: Vec<String>,
    /// Mean confidence of its words, 0–100.
    pub mean_confidence: f32,
    pub words: usize,
}

fn tesseract() -> PathBuf {
    std::env::var_os(TESSERACT_ENV).filter(|value| !value.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("tesseract"))
}

/// The installed language packs.
fn installed_languages() -> Result<Vec<String>, OcrError> {
    let output = Command::new(tesseract()).arg("--list-langs").output().map_err(|error| OcrError::EngineMissing(error.to_string()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().skip(1).map(str::trim).filter(|line| !line.is_empty() && *line != "osd").map(String::from).collect())
}

/// The languages to read: `chosen` (the user's setting), else `AUTOMIX_OCR_LANGUAGES`, else
/// English plus the system locale's language where its pack is among `installed`.
fn chosen_languages(installed: &[String], chosen: Option<&str>) -> String {
    let explicit = chosen.map(str::to_string).or_else(|| std::env::var(OCR_LANGUAGES_ENV).ok());
    if let Some(chosen) = explicit.filter(|value| !value.trim().is_empty()) {
        return chosen.split(['+', ',', ' ']).filter(|language| !language.is_empty()).collect::<Vec<_>>().join("+");
    }
    let locale = ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty())).unwrap_or_default();
    match tesseract_language(&locale) {
        Some(language) if language != "eng" && installed.iter().any(|have| have == language) => format!("eng+{language}"),
        _ => "eng".to_string(),
    }
}

/// Tesseract's code for a locale's language (`ru_RU.UTF-8` → `rus`), for the common ones.
fn tesseract_language(locale: &str) -> Option<&'static str> {
    let language = locale.split(['_', '.', '@']).next()?.to_ascii_lowercase();
    Some(match language.as_str() {
        "en" => "eng",
        "ru" => "rus",
        "de" => "deu",
        "fr" => "fra",
        "es" => "spa",
        "it" => "ita",
        "pt" => "por",
        "nl" => "nld",
        "pl" => "pol",
        "uk" => "ukr",
        "cs" => "ces",
        "sv" => "swe",
        "tr" => "tur",
        "zh" => "chi_sim",
        "ja" => "jpn",
        "ko" => "kor",
        "ar" => "ara",
        "he" => "heb",
        _ => return None,
    })
}

/// The OCR engine with its languages, checked once for all the pages of a document.
#[derive(Debug, Clone)]
pub struct Ocr {
    languages: String,
}

impl Ocr {
    /// The engine in `languages` (Tesseract's codes, `eng+rus`), else in [`OCR_LANGUAGES_ENV`]'s,
    /// else in English plus the locale's language where installed; fails when the engine or a
    /// chosen language pack is missing.
    pub fn new(languages: Option<&str>) -> Result<Ocr, OcrError> {
        let installed = installed_languages()?;
        let languages = chosen_languages(&installed, languages);
        for language in languages.split('+') {
            if !installed.iter().any(|have| have == language) {
                return Err(OcrError::LanguageMissing {
                    language: language.to_string(),
                    package: format!("tesseract-ocr-{}", language.replace('_', "-").to_lowercase()),
                });
            }
        }
        Ok(Ocr { languages })
    }

    /// The languages it reads, as Tesseract names them (`eng+rus`).
    pub fn languages(&self) -> &str {
        &self.languages
    }

    /// Reads the text of the image file at `image` (PNG, JPEG, TIFF, PGM …).
    /// `detect_orientation` lets Tesseract find the page's orientation first (photos of pages).
    pub fn recognise(&self, image: &Path, detect_orientation: bool) -> Result<Vec<OcrPage>, OcrError> {
        recognise(image, &self.languages, detect_orientation)
    }

    /// Reads a greyscale image by OCR through a temporary PGM file.
    pub fn recognise_gray(&self, image: &GrayImage) -> Result<OcrPage, OcrError> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let file = std::env::temp_dir().join(format!("automix-ocr-{}-{}.pgm", std::process::id(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        std::fs::write(&file, image.to_pgm()).map_err(|error| OcrError::Failed(format!("cannot write {}: {error}", file.display())))?;
        let result = self.recognise(&file, false);
        let _ = std::fs::remove_file(&file);
        let mut pages = result?;
        Ok(if pages.is_empty() { OcrPage { number: 1, paragraphs: Vec::new(), mean_confidence: 0.0, words: 0 } } else { pages.remove(0) })
    }
}

/// One run of Tesseract on `image` in `languages` (installed: [`Ocr::new`] checked them).
fn recognise(image: &Path, languages: &str, detect_orientation: bool) -> Result<Vec<OcrPage>, OcrError> {
    let mut command = Command::new(tesseract());
    command.arg(image).arg("stdout").args(["-l", languages, "--psm", if detect_orientation { "1" } else { "3" }, "tsv"]);
    // One thread: the indexer already runs beside the chat on a laptop's few cores.
    command.env("OMP_THREAD_LIMIT", "1");
    let tsv = run_limited(command, "tesseract", OcrError::EngineMissing)?;
    Ok(parse_tsv(&tsv))
}

/// Overrides the `heif-convert` found on `PATH`.
pub const HEIF_CONVERT_ENV: &str = "AUTOMIX_HEIF_CONVERT";

/// Decodes a HEIC/HEIF photo (what phones take) into PNG files in `folder`, one per image in it,
/// with libheif's `heif-convert` under the same limits as OCR. Returns them in order.
pub fn heif_to_png(photo: &Path, folder: &Path) -> Result<Vec<PathBuf>, OcrError> {
    let program = std::env::var_os(HEIF_CONVERT_ENV).filter(|value| !value.is_empty()).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("heif-convert"));
    let mut command = Command::new(program);
    command.arg(photo).arg(folder.join("page.png"));
    run_limited(command, "heif-convert", OcrError::HeicDecoderMissing)?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|error| OcrError::Failed(format!("cannot read {}: {error}", folder.display())))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "png"))
        .collect();
    // page.png for one image; page-1.png, page-2.png … for several.
    pages.sort_by_key(|path| path.file_stem().and_then(|stem| stem.to_str()?.rsplit('-').next()?.parse::<u32>().ok()).unwrap_or(0));
    if pages.is_empty() {
        return Err(OcrError::Failed("heif-convert wrote no image".to_string()));
    }
    Ok(pages)
}

/// Runs `command` with the OCR limits (time, address space); its stdout when it succeeds.
/// `missing` makes the error for a program that cannot be started.
fn run_limited(mut command: Command, name: &str, missing: impl FnOnce(String) -> OcrError) -> Result<String, OcrError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    super::worker::limit_address_space(&mut command, OCR_MEMORY_LIMIT_BYTES);
    let mut child = command.spawn().map_err(|error| missing(error.to_string()))?;
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|error| OcrError::Failed(error.to_string()))? {
            break status;
        }
        if started.elapsed() > OCR_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(OcrError::TimedOut(OCR_TIME_LIMIT.as_secs()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let output = reader.join().unwrap_or_default();
    if !status.success() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        let last = stderr.lines().rfind(|line| !line.trim().is_empty()).unwrap_or("no message").to_string();
        return Err(OcrError::Failed(format!("{name} exited with {status}: {last}")));
    }
    Ok(output)
}

/// Tesseract's TSV (level, page, block, paragraph, line, word, left, top, width, height,
/// confidence, text) into pages of paragraphs; lines of a paragraph are joined by line breaks.
fn parse_tsv(tsv: &str) -> Vec<OcrPage> {
    let mut pages: Vec<OcrPage> = Vec::new();
    let mut confidences: Vec<Vec<f32>> = Vec::new();
    let mut current: Option<(u32, u32, u32, u32)> = None; // page, block, paragraph, line
    for row in tsv.lines().skip(1) {
        let fields: Vec<&str> = row.split('\t').collect();
        if fields.len() < 12 || fields[0] != "5" {
            continue;
        }
        let number = |index: usize| fields[index].parse::<u32>().unwrap_or(0);
        let (page, block, paragraph, line) = (number(1), number(2), number(3), number(4));
        let word = fields[11].trim();
        let confidence: f32 = fields[10].parse().unwrap_or(-1.0);
        if word.is_empty() || confidence < 0.0 {
            continue;
        }
        if pages.last().is_none_or(|last| last.number != page) {
            pages.push(OcrPage { number: page, paragraphs: Vec::new(), mean_confidence: 0.0, words: 0 });
            confidences.push(Vec::new());
            current = None;
        }
        let ocr_page = pages.last_mut().expect("pushed");
        match current {
            Some((_, b, p, l)) if (b, p) == (block, paragraph) => {
                let text = ocr_page.paragraphs.last_mut().expect("a paragraph is open");
                text.push(if l == line { ' ' } else { '\n' });
                text.push_str(word);
            }
            _ => ocr_page.paragraphs.push(word.to_string()),
        }
        current = Some((page, block, paragraph, line));
        ocr_page.words += 1;
        confidences.last_mut().expect("pushed").push(confidence);
    }
    for (page, confidence) in pages.iter_mut().zip(confidences) {
        page.mean_confidence = if confidence.is_empty() { 0.0 } else { confidence.iter().sum::<f32>() / confidence.len() as f32 };
    }
    pages
}

/// A greyscale image, row by row, one byte per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl GrayImage {
    /// The image as a binary PGM file (Tesseract reads it without conversion).
    pub fn to_pgm(&self) -> Vec<u8> {
        let mut bytes = format!("P5\n{} {}\n255\n", self.width, self.height).into_bytes();
        bytes.extend_from_slice(&self.pixels);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_words_become_paragraphs_with_their_lines_and_a_mean_confidence() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
            1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n\
            5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tThe\n\
            5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tmuseum\n\
            5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\topens\n\
            5\t1\t1\t2\t1\t1\t0\t0\t1\t1\t60\tEntry\n\
            5\t2\t1\t1\t1\t1\t0\t0\t1\t1\t50\tPage2\n";
        let pages = parse_tsv(tsv);
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].paragraphs, vec!["The museum\nopens".to_string(), "Entry".to_string()]);
        assert_eq!((pages[0].words, pages[0].mean_confidence), (4, 75.0));
        assert_eq!((pages[1].number, pages[1].paragraphs[0].as_str()), (2, "Page2"));
    }

    #[test]
    fn locales_name_their_tesseract_language() {
        assert_eq!(tesseract_language("ru_RU.UTF-8"), Some("rus"));
        assert_eq!(tesseract_language("de_DE@euro"), Some("deu"));
        assert_eq!(tesseract_language("C.UTF-8"), None);
    }

    #[test]
    fn a_pgm_has_its_header_and_pixels() {
        let image = GrayImage { width: 2, height: 1, pixels: vec![0, 255] };
        assert_eq!(image.to_pgm(), b"P5\n2 1\n255\n\x00\xff".to_vec());
    }
}
