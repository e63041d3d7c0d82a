//! Adding files and folders: hashing, skipping unchanged files, one transaction per file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chunk::{chunk_document, CharOffsets, ChunkingConfig};
use crate::embed::Embedder;
use crate::error::DocsError;
use crate::extract::worker::ReadOptions;
use crate::extract::{read_document_bytes, DocumentFormat, DocumentReader, ExtractError, ExtractedDocument, PageProgress};
use crate::store::{Library, NewDocument, PageSpan};

/// Files over 200 MB are refused unless the limit is raised.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;
/// Chunks embedded between progress reports and cancellation checks.
const EMBEDDING_STEP: usize = 64;

/// Settings for [`Library::add_paths`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexOptions {
    pub max_file_bytes: u64,
    pub chunking: ChunkingConfig,
    /// The languages OCR reads scans in (Tesseract's codes joined by `+`: `eng+rus`); None for
    /// English plus the system's language.
    #[serde(default)]
    pub ocr_languages: Option<String>,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { max_file_bytes: DEFAULT_MAX_FILE_BYTES, chunking: ChunkingConfig::default(), ocr_languages: None }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Indexed for the first time.
    Added {
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        document_id: i64,
        chunks: usize,
    },
    /// Its content changed since it was indexed, so it was indexed again.
    Updated {
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        document_id: i64,
        chunks: usize,
    },
    /// Same content hash (or size and modification time) as already indexed; nothing done.
    Unchanged {
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        document_id: i64,
    },
    /// The file is gone from a library folder, so its document left the library.
    Removed {
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        document_id: i64,
    },
    /// Not indexed; the message says why and what to do.
    Failed { error: String },
}

/// The outcome for one file of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct FileReport {
    pub path: PathBuf,
    pub outcome: FileOutcome,
}

/// Progress of [`Library::add_paths`], reported after every file and every embedding step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct IndexProgress {
    pub files_done: usize,
    pub files_total: usize,
    /// Chunks embedded so far in this batch.
    pub chunks_indexed: usize,
    pub current_file: Option<PathBuf>,
    /// The pages of the current file read so far, for paged documents (PDFs, scans).
    pub pages: Option<PageProgress>,
}

impl Library {
    /// Indexes files and (recursively) folders. A file that cannot be read gets a `Failed`
    /// report and the batch goes on; each file is committed on its own, so after a crash or a
    /// cancel the next call skips what was finished. Returns `Cancelled` when `cancel` is set.
    pub fn add_paths(
        &mut self,
        embedder: &Embedder,
        paths: &[PathBuf],
        options: &IndexOptions,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &AtomicBool,
    ) -> Result<Vec<FileReport>, DocsError> {
        let mut reports = Vec::new();
        let mut files = Vec::new();
        for path in paths {
            match collect_files(path, &mut files, &mut reports) {
                Ok(Some(folder)) => self.remember_folder(&folder)?,
                Ok(None) => {}
                Err(error) => reports.push(FileReport { path: path.clone(), outcome: FileOutcome::Failed { error: error.to_string() } }),
            }
        }
        let mut state = IndexProgress { files_done: 0, files_total: files.len(), chunks_indexed: 0, current_file: None, pages: None };
        let mut reader = DocumentReader::new();
        for file in files {
            if cancel.load(Ordering::Relaxed) {
                return Err(DocsError::Cancelled);
            }
            state.current_file = Some(file.clone());
            progress(&state);
            let outcome = match self.index_file(embedder, &mut reader, &file, options, &mut state, progress, cancel) {
                Ok(outcome) => outcome,
                Err(DocsError::Extract(error)) => FileOutcome::Failed { error: error.to_string() },
                Err(other) => return Err(other),
            };
            reports.push(FileReport { path: file, outcome });
            state.files_done += 1;
            state.current_file = None;
            state.pages = None;
            progress(&state);
        }
        Ok(reports)
    }

    /// Brings the library in line with its folders: new files are added, changed ones re-indexed,
    /// documents whose file is gone are removed. A folder that is itself missing (an unplugged
    /// disk, say) gets a `Failed` report and its documents stay.
    pub fn sync(
        &mut self,
        embedder: &Embedder,
        options: &IndexOptions,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &AtomicBool,
    ) -> Result<Vec<FileReport>, DocsError> {
        let (present, missing): (Vec<PathBuf>, Vec<PathBuf>) = self.folders()?.into_iter().partition(|folder| folder.is_dir());
        let mut reports: Vec<FileReport> = missing
            .into_iter()
            .map(|folder| {
                let error = format!(
                    "the folder {} is missing (moved, or on a disk that is not mounted); its documents stay in the library until `automix docs remove` is given the folder",
                    folder.display()
                );
                FileReport { path: folder, outcome: FileOutcome::Failed { error } }
            })
            .collect();
        for document in self.documents()? {
            let path = PathBuf::from(&document.path);
            // Only a file known to be gone is dropped; one that cannot be checked (permissions,
            // an I/O error, an unmounted disk inside the folder) keeps its document.
            let gone = matches!(path.try_exists(), Ok(false));
            if gone && present.iter().any(|folder| path.starts_with(folder)) {
                self.delete_document(document.id)?;
                reports.push(FileReport { path, outcome: FileOutcome::Removed { document_id: document.id } });
            }
        }
        reports.extend(self.add_paths(embedder, &present, options, progress, cancel)?);
        Ok(reports)
    }

    #[allow(clippy::too_many_arguments)]
    fn index_file(
        &mut self,
        embedder: &Embedder,
        reader: &mut DocumentReader,
        path: &Path,
        options: &IndexOptions,
        state: &mut IndexProgress,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &AtomicBool,
    ) -> Result<FileOutcome, DocsError> {
        let stored_path = path.to_string_lossy().into_owned();
        let previous = self.stored_file(&stored_path)?;
        let metadata = std::fs::metadata(path).ok();
        let modified_ns = metadata.as_ref().and_then(settled_modified_ns);
        if let (Some(stored), Some(metadata)) = (&previous, &metadata) {
            if stored.modified_ns.is_some() && stored.modified_ns == modified_ns && stored.size_bytes == metadata.len() {
                return Ok(FileOutcome::Unchanged { document_id: stored.document_id });
            }
        }
        let bytes = read_document_bytes(path, options.max_file_bytes)?;
        let size_bytes = bytes.len() as u64;
        let content_hash = format!("{:x}", Sha256::digest(&bytes));
        if let Some(stored) = &previous {
            if stored.content_hash == content_hash {
                self.touch(stored.document_id, modified_ns)?;
                return Ok(FileOutcome::Unchanged { document_id: stored.document_id });
            }
        }
        drop(bytes);
        // OCR'd pages are kept under the content's hash until the document is stored, so a
        // cancelled or crashed read of a long scan resumes at its first unread page.
        let ocr_cache = self.ocr_cache_folder(&content_hash);
        let read_options =
            ReadOptions { max_file_bytes: options.max_file_bytes, ocr_cache: ocr_cache.as_deref(), ocr_languages: options.ocr_languages.as_deref() };
        let read = reader.read(
            path,
            &read_options,
            &mut |pages| {
                state.pages = Some(pages);
                progress(state);
            },
            cancel,
        );
        let document = match read {
            Ok(Some(document)) => document,
            Ok(None) => return Err(DocsError::Cancelled),
            Err(error) => {
                forget_ocr_cache(ocr_cache.as_deref());
                return Err(error.into());
            }
        };
        let format = document.format;
        let chunks = chunk_document(&document, &options.chunking, embedder);
        let mut embeddings = Vec::with_capacity(chunks.len());
        for step in chunks.chunks(EMBEDDING_STEP) {
            if cancel.load(Ordering::Relaxed) {
                return Err(DocsError::Cancelled);
            }
            let texts: Vec<&str> = step.iter().map(|chunk| chunk.text.as_str()).collect();
            embeddings.extend(embedder.embed(&texts)?);
            state.chunks_indexed += step.len();
            progress(state);
        }
        let pages = page_spans(&document);
        let new_document = NewDocument {
            path: &stored_path,
            text: &document.text,
            pages: &pages,
            title: &document.title,
            format,
            content_hash: &content_hash,
            size_bytes,
            modified_ns,
        };
        let document_id = self.replace_document(&new_document, &chunks, &embeddings)?;
        forget_ocr_cache(ocr_cache.as_deref());
        Ok(match previous {
            Some(_) => FileOutcome::Updated { document_id, chunks: chunks.len() },
            None => FileOutcome::Added { document_id, chunks: chunks.len() },
        })
    }
}

impl Library {
    /// Where OCR'd pages of the file with this content hash wait for its document to be stored:
    /// beside the library's database. None for an in-memory library.
    fn ocr_cache_folder(&self, content_hash: &str) -> Option<PathBuf> {
        let database = self.connection.path().filter(|path| !path.is_empty())?;
        Some(Path::new(database).parent()?.join("ocr-pages").join(content_hash))
    }
}

fn forget_ocr_cache(folder: Option<&Path>) {
    if let Some(folder) = folder.filter(|folder| folder.exists()) {
        if let Err(error) = std::fs::remove_dir_all(folder) {
            tracing::warn!(folder = %folder.display(), %error, "OCR'd pages of an indexed file could not be removed");
        }
    }
}

/// Each page with text: its character range in the document's text (from its first block to its
/// last) and its printed label. Empty for formats without pages.
fn page_spans(document: &ExtractedDocument) -> Vec<PageSpan> {
    let mut spans: Vec<PageSpan> = Vec::new();
    let mut offsets = CharOffsets::default();
    for block in &document.blocks {
        let Some(number) = block.page else { continue };
        let char_start = offsets.char_index(&document.text, block.byte_range.start);
        let char_end = offsets.char_index(&document.text, block.byte_range.end);
        match spans.last_mut() {
            Some(span) if span.number == number => span.char_end = char_end,
            _ => spans.push(PageSpan { number, label: block.page_label.clone(), char_start, char_end, ocr_confidence: block.ocr_confidence }),
        }
    }
    spans
}

/// The file's modification time, unless it is so recent that a same-size edit could still land
/// within the same timestamp tick (FAT and exFAT disks count in 2 s steps): such a file is hashed
/// again on the next sync instead of being trusted by its time.
fn settled_modified_ns(metadata: &std::fs::Metadata) -> Option<i64> {
    const TICK: std::time::Duration = std::time::Duration::from_secs(3);
    let modified = metadata.modified().ok()?;
    if std::time::SystemTime::now().duration_since(modified).map_or(true, |age| age < TICK) {
        return None;
    }
    i64::try_from(modified.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos()).ok()
}

/// Adds `path` (absolute) or, for a folder, every document file below it in name order,
/// skipping hidden entries and files of other types. Links are followed; a link back into a
/// folder it sits in, a broken link and a subfolder that cannot be read are each reported in
/// `problems` and skipped, and the rest of the folder is still collected. Returns the absolute
/// folder for a folder.
fn collect_files(path: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<FileReport>) -> Result<Option<PathBuf>, ExtractError> {
    let absolute = std::fs::canonicalize(path).map_err(|source| ExtractError::Io { path: path.to_path_buf(), source })?;
    if !absolute.is_dir() {
        files.push(absolute);
        return Ok(None);
    }
    let entries = walkdir::WalkDir::new(&absolute)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.depth() == 0 || !entry.file_name().to_string_lossy().starts_with('.'));
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_type().is_file() && DocumentFormat::from_extension(entry.path()).is_some() => {
                files.push(entry.into_path());
            }
            Ok(_) => {}
            Err(error) => {
                let path = error.path().unwrap_or(&absolute).to_path_buf();
                let error = walk_problem(&path, &error);
                problems.push(FileReport { path, outcome: FileOutcome::Failed { error } });
            }
        }
    }
    Ok(Some(absolute))
}

/// What went wrong at one entry of a folder walk, in words a user can act on.
fn walk_problem(path: &Path, error: &walkdir::Error) -> String {
    if let Some(ancestor) = error.loop_ancestor() {
        return format!("{} links back to {}, a folder it is inside; skipped so the folder is not read forever", path.display(), ancestor.display());
    }
    match error.io_error().map(std::io::Error::kind) {
        Some(std::io::ErrorKind::NotFound) => format!("{} is a link to something that does not exist; skipped", path.display()),
        Some(std::io::ErrorKind::PermissionDenied) => {
            format!("cannot read {}: permission denied; skipped, the rest of the folder was indexed", path.display())
        }
        _ => format!("cannot read {}: {error}; skipped, the rest of the folder was indexed", path.display()),
    }
}
