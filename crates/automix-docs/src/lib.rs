//! AutoMix's document library: reads PDF, DOCX, Markdown, HTML and text files (and scans: pages
//! without a text layer and images of pages, by OCR), cuts them into token-sized chunks, embeds them with all-MiniLM-L6-v2, stores everything in SQLite (FTS5 for
//! BM25) and answers hybrid searches with citations, trimmed to a model's context budget.
//!
//! Typical use: [`Library::open`] + [`Embedder::load_default`], then [`Library::add_paths`] to
//! index and [`Library::retrieve`] to fetch the chunks that fit a prompt.
//!
//! Modules use each other in layers, never in a circle: `extract`, `segment` (sentences, words)
//! and `hit` (search hits, citations) use no other module; `chunk` and `text` (query words,
//! snippets) use `segment`; `pack` fits hits into a budget; `error` sits above `embed`; `store`
//! holds the database; `search` and `ingest` use `store`. The crate root only declares and
//! re-exports.

pub mod chunk;
pub mod embed;
mod error;
pub mod extract;
mod hit;
mod ingest;
mod pack;
mod search;
mod segment;
mod store;
mod text;
mod watch;

pub use chunk::{chunk_document, Chunk, ChunkingConfig, TokenCounter, WordTokenEstimate};
pub use embed::{default_model_dir, EmbedError, Embedder, EMBEDDING_MODEL_NAME};
pub use error::DocsError;
pub use extract::{DocumentFormat, ExtractError, ExtractedDocument};
pub use hit::{Citation, SearchHit};
pub use ingest::{FileOutcome, FileReport, IndexOptions, IndexProgress, DEFAULT_MAX_FILE_BYTES};
pub use pack::select_for_budget;
pub use search::SearchMode;
pub use segment::{index_text, sentences};
pub use store::{DocumentInfo, DocumentText, FolderInfo, Library, PageSpan, PageText, LIBRARY_FILE_NAME};
pub use watch::{FolderWatcher, WatchError};
