//! AutoMix's document library: reads PDF, DOCX, Markdown, HTML and text files, cuts them into
//! token-sized chunks, embeds them with all-MiniLM-L6-v2, stores everything in SQLite (FTS5 for
//! BM25) and answers hybrid searches with citations, trimmed to a model's context budget.
//!
//! Typical use: [`Library::open`] + [`Embedder::load_default`], then [`Library::add_paths`] to
//! index and [`Library::retrieve`] to fetch the chunks that fit a prompt.

pub mod chunk;
pub mod embed;
pub mod extract;
mod ingest;
mod pack;
mod search;
mod segment;
mod store;
mod watch;

use std::path::PathBuf;

pub use chunk::{chunk_document, Chunk, ChunkingConfig, TokenCounter, WordTokenEstimate};
pub use embed::{default_model_dir, EmbedError, Embedder, EMBEDDING_MODEL_NAME};
pub use extract::{DocumentFormat, ExtractError, ExtractedDocument};
pub use ingest::{FileOutcome, FileReport, IndexOptions, IndexProgress, DEFAULT_MAX_FILE_BYTES};
pub use pack::select_for_budget;
pub use search::{Citation, SearchHit, SearchMode};
pub use segment::{index_text, sentences};
pub use store::{DocumentInfo, DocumentText, Library, PageSpan, PageText, LIBRARY_FILE_NAME};
pub use watch::{FolderWatcher, WatchError};

/// Errors of the document library as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("cannot open the document library {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the folder {path} for the document library: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("the document library {path} has schema version {found}, newer than this AutoMix understands ({supported}); upgrade AutoMix")]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    #[error("document library database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("the library's embeddings have {stored} dimensions but the embedding model makes {model}; remove and re-add the documents")]
    DimensionMismatch { stored: usize, model: usize },
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("no document in the library matches {0:?}; `automix docs list` shows ids and paths")]
    UnknownDocument(String),
    #[error("{path} was indexed by an earlier AutoMix that did not keep its text; add it again (`automix docs add`) or sync its folder to read it anew")]
    TextNotKept { path: String },
    #[error("indexing was cancelled")]
    Cancelled,
}
