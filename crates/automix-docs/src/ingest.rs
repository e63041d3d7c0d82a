//! Adding files and folders: hashing, skipping unchanged files, one transaction per file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::chunk::{chunk_document, ChunkingConfig};
use crate::embed::Embedder;
use crate::extract::{detect_format, extract, read_document_bytes, DocumentFormat, ExtractError};
use crate::store::{Library, NewDocument};
use crate::DocsError;

/// Files over 200 MB are refused unless the limit is raised.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;
/// Chunks embedded between progress reports and cancellation checks.
const EMBEDDING_STEP: usize = 64;

/// Settings for [`Library::add_paths`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexOptions {
    pub max_file_bytes: u64,
    pub chunking: ChunkingConfig,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions { max_file_bytes: DEFAULT_MAX_FILE_BYTES, chunking: ChunkingConfig::default() }
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FileOutcome {
    /// Indexed for the first time.
    Added { document_id: i64, chunks: usize },
    /// Its content changed since it was indexed, so it was indexed again.
    Updated { document_id: i64, chunks: usize },
    /// Same content hash as already indexed; nothing done.
    Unchanged { document_id: i64 },
    /// Not indexed; the message says why and what to do.
    Failed { error: String },
}

/// The outcome for one file of a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    pub path: PathBuf,
    pub outcome: FileOutcome,
}

/// Progress of [`Library::add_paths`], reported after every file and every embedding step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexProgress {
    pub files_done: usize,
    pub files_total: usize,
    /// Chunks embedded so far in this batch.
    pub chunks_indexed: usize,
    pub current_file: Option<PathBuf>,
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
            match collect_files(path, &mut files) {
                Ok(()) => {}
                Err(error) => reports.push(FileReport { path: path.clone(), outcome: FileOutcome::Failed { error: error.to_string() } }),
            }
        }
        let mut state = IndexProgress { files_done: 0, files_total: files.len(), chunks_indexed: 0, current_file: None };
        for file in files {
            if cancel.load(Ordering::Relaxed) {
                return Err(DocsError::Cancelled);
            }
            state.current_file = Some(file.clone());
            progress(&state);
            let outcome = match self.index_file(embedder, &file, options, &mut state, progress, cancel) {
                Ok(outcome) => outcome,
                Err(DocsError::Extract(error)) => FileOutcome::Failed { error: error.to_string() },
                Err(other) => return Err(other),
            };
            reports.push(FileReport { path: file, outcome });
            state.files_done += 1;
            state.current_file = None;
            progress(&state);
        }
        Ok(reports)
    }

    fn index_file(
        &mut self,
        embedder: &Embedder,
        path: &Path,
        options: &IndexOptions,
        state: &mut IndexProgress,
        progress: &mut dyn FnMut(&IndexProgress),
        cancel: &AtomicBool,
    ) -> Result<FileOutcome, DocsError> {
        let stored_path = path.to_string_lossy().into_owned();
        let bytes = read_document_bytes(path, options.max_file_bytes)?;
        let content_hash = format!("{:x}", Sha256::digest(&bytes));
        let previous = self.stored_hash(&stored_path)?;
        if let Some((document_id, hash)) = &previous {
            if *hash == content_hash {
                return Ok(FileOutcome::Unchanged { document_id: *document_id });
            }
        }
        let format = detect_format(path, &bytes);
        let document = extract(path, &bytes, format)?;
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
        let new_document = NewDocument {
            path: &stored_path,
            title: &document.title,
            format,
            content_hash: &content_hash,
            size_bytes: bytes.len() as u64,
        };
        let document_id = self.replace_document(&new_document, &chunks, &embeddings)?;
        Ok(match previous {
            Some(_) => FileOutcome::Updated { document_id, chunks: chunks.len() },
            None => FileOutcome::Added { document_id, chunks: chunks.len() },
        })
    }
}

/// Adds `path` (absolute) or, for a folder, every document file below it in name order,
/// skipping hidden entries and files of other types.
fn collect_files(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), ExtractError> {
    let io_error = |source| ExtractError::Io { path: path.to_path_buf(), source };
    let absolute = std::fs::canonicalize(path).map_err(io_error)?;
    if !absolute.is_dir() {
        files.push(absolute);
        return Ok(());
    }
    let mut entries = std::fs::read_dir(&absolute)
        .map_err(io_error)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_error)?;
    entries.sort();
    for entry in entries {
        let hidden = entry.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if entry.is_dir() {
            collect_files(&entry, files)?;
        } else if DocumentFormat::from_extension(&entry).is_some() {
            files.push(entry);
        }
    }
    Ok(())
}
