//! The document library's error type.

use std::path::PathBuf;

use crate::embed::EmbedError;
use crate::extract::ExtractError;

/// Errors of the document library as a whole.
#[derive(Debug, thiserror::Error)]
pub enum DocsError {
    #[error("cannot open the document library {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create the folder {path} for the document library: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("the document library {path} has schema version {found}, newer than this AutoMix understands ({supported}); upgrade AutoMix")]
    SchemaTooNew { path: PathBuf, found: i64, supported: i64 },
    /// The library's tables could not be brought up to date (the message names the file and the step).
    #[error(transparent)]
    Migration(automix_sqlite::migrate::MigrationError),
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
    #[error("{0} is not a library folder; `automix docs list` lists them")]
    UnknownFolder(PathBuf),
    #[error("{path} was indexed by an earlier AutoMix that did not keep its text; add it again (`automix docs add`) or sync its folder to read it anew")]
    TextNotKept { path: String },
    #[error("indexing was cancelled")]
    Cancelled,
}
