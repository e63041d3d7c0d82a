//! The SQLite library file: documents, chunks with embeddings, and an FTS5 index over chunk text.

use std::path::{Path, PathBuf};

use automix_sqlite::migrate::{self, column_exists, table_exists, user_version, Migration, MigrationError, Schema};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

use crate::chunk::Chunk;
use crate::error::DocsError;
use crate::extract::DocumentFormat;
use crate::segment::index_text;

/// File name of the library inside the AutoMix data directory.
pub const LIBRARY_FILE_NAME: &str = "library.sqlite";
/// The library's tables, versioned as `library` in `schema_versions` by the runner the history
/// and the ledger share. Step 3 also folds the chunks already stored into the new word index,
/// which needs Rust, not SQL.
const LIBRARY: Schema = Schema {
    name: "library",
    migrations: &[
        Migration::sql("0001_documents_and_chunks.sql", include_str!("../migrations/library/0001_documents_and_chunks.sql")),
        Migration::sql("0002_folders_and_modification_times.sql", include_str!("../migrations/library/0002_folders_and_modification_times.sql")),
        Migration::sql("0003_folded_index_and_kept_text.sql", include_str!("../migrations/library/0003_folded_index_and_kept_text.sql"))
            .then(fold_stored_chunks),
        Migration::sql("0004_private_documents_and_folders.sql", include_str!("../migrations/library/0004_private_documents_and_folders.sql")),
        Migration::sql("0005_ocr_confidence.sql", include_str!("../migrations/library/0005_ocr_confidence.sql")),
    ],
    adopt: adopt_library,
};

/// One indexed document as listed to the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct DocumentInfo {
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub id: i64,
    pub path: String,
    pub title: String,
    pub format: DocumentFormat,
    pub content_hash: String,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub size_bytes: u64,
    pub chunk_count: usize,
    /// Seconds since the Unix epoch.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub indexed_at: i64,
    /// "Never leaves this device": set on the document itself, or inherited from `private_folder`.
    /// Its passages are never sent to a remote model.
    pub private: bool,
    /// The private library folder this document lies in, which makes it private whatever its own
    /// flag says.
    pub private_folder: Option<String>,
}

/// A folder the library keeps in step with the disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct FolderInfo {
    pub path: String,
    /// Every document inside it is private ("never leaves this device").
    pub private: bool,
}

/// One physical page of a document: its number, the label printed on it when that differs, and
/// its character range in the document's text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageSpan {
    pub number: u32,
    pub label: Option<String>,
    pub char_start: usize,
    pub char_end: usize,
    /// The mean OCR word confidence (0–100) when the page's text was read by OCR.
    pub ocr_confidence: Option<f32>,
}

/// The text the library holds for one document, page by page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct DocumentText {
    pub document: DocumentInfo,
    /// Empty for formats without pages: then `text` is the whole document.
    pub pages: Vec<PageText>,
    pub text: String,
}

/// One page's text with its number and printed label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct PageText {
    pub number: u32,
    pub label: Option<String>,
    pub text: String,
    /// The mean OCR word confidence (0–100) when the page was read by OCR.
    pub ocr_confidence: Option<f32>,
}

/// What is written for one document; its chunks and embeddings travel alongside.
pub(crate) struct NewDocument<'a> {
    pub path: &'a str,
    /// The extracted text the chunks' character offsets refer to.
    pub text: &'a str,
    pub pages: &'a [PageSpan],
    pub title: &'a str,
    pub format: DocumentFormat,
    pub content_hash: &'a str,
    pub size_bytes: u64,
    pub modified_ns: Option<i64>,
}

/// What the library knows of an indexed file, to tell whether it changed.
pub(crate) struct StoredFile {
    pub document_id: i64,
    pub content_hash: String,
    pub size_bytes: u64,
    pub modified_ns: Option<i64>,
}

/// All chunk embeddings in memory, for brute-force cosine search.
pub(crate) struct VectorIndex {
    pub chunk_ids: Vec<i64>,
    pub values: Vec<f32>,
    pub dimension: usize,
}

/// An open document library.
pub struct Library {
    pub(crate) connection: Connection,
    pub(crate) vectors: Option<VectorIndex>,
    /// `PRAGMA data_version` when `vectors` was loaded: it changes when another connection (the
    /// app's indexing side) commits, which makes the cached vectors stale.
    pub(crate) vectors_version: i64,
}

impl Library {
    /// Opens (creating if needed) the library at `path`, migrating its schema.
    pub fn open(path: &Path) -> Result<Library, DocsError> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| DocsError::CreateDir { path: parent.to_path_buf(), source })?;
        }
        let open_error = |source| DocsError::Open { path: path.to_path_buf(), source };
        let mut connection = Connection::open(path).map_err(open_error)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;")
            .map_err(open_error)?;
        migrate::apply(&mut connection, &LIBRARY).map_err(|error| match error {
            MigrationError::TooNew { found, supported, .. } => DocsError::SchemaTooNew { path: path.to_path_buf(), found, supported },
            error => DocsError::Migration(error),
        })?;
        Ok(Library { connection, vectors: None, vectors_version: 0 })
    }

    /// The text the library holds for a document (given by id or path), page by page.
    pub fn document_text(&self, id_or_path: &str) -> Result<DocumentText, DocsError> {
        let document = self.find_document(id_or_path)?.ok_or_else(|| DocsError::UnknownDocument(id_or_path.to_string()))?;
        let text: Option<String> = self.connection.query_row("SELECT text FROM documents WHERE id = ?1", [document.id], |row| row.get(0))?;
        let text = text.ok_or_else(|| DocsError::TextNotKept { path: document.path.clone() })?;
        let mut statement =
            self.connection.prepare("SELECT number, label, char_start, char_end, ocr_confidence FROM pages WHERE document_id = ?1 ORDER BY number")?;
        let spans = statement.query_map([document.id], |row| {
            Ok(PageSpan {
                number: row.get(0)?,
                label: row.get(1)?,
                char_start: row.get::<_, i64>(2)? as usize,
                char_end: row.get::<_, i64>(3)? as usize,
                ocr_confidence: row.get::<_, Option<f64>>(4)?.map(|value| value as f32),
            })
        })?;
        let spans = spans.collect::<Result<Vec<_>, _>>()?;
        let pages = char_slices(&text, spans.iter().map(|span| span.char_start..span.char_end))
            .into_iter()
            .zip(spans)
            .map(|(page_text, span)| PageText { number: span.number, label: span.label, text: page_text.to_string(), ocr_confidence: span.ocr_confidence })
            .collect();
        Ok(DocumentText { document, pages, text })
    }

    /// `<AUTOMIX_HOME>/library.sqlite`.
    pub fn default_path() -> PathBuf {
        automix_models::automix_home().join(LIBRARY_FILE_NAME)
    }

    /// All documents, ordered by path.
    pub fn documents(&self) -> Result<Vec<DocumentInfo>, DocsError> {
        let mut statement = self.connection.prepare(&format!("{DOCUMENT_COLUMNS} ORDER BY path"))?;
        let rows = statement.query_map([], document_from_row)?;
        let mut documents = rows.collect::<Result<Vec<_>, _>>()?;
        let private_folders = self.private_folders()?;
        for document in &mut documents {
            self.inherit_privacy(document, &private_folders);
        }
        Ok(documents)
    }

    /// The ids of the documents whose passages must never leave this device: private themselves
    /// or inside a private folder.
    pub fn private_document_ids(&self) -> Result<std::collections::HashSet<i64>, DocsError> {
        Ok(self.documents()?.into_iter().filter(|document| document.private).map(|document| document.id).collect())
    }

    /// Marks a document (by id or path) private or not. A document inside a private folder stays
    /// private until the folder is not.
    pub fn set_document_private(&mut self, id_or_path: &str, private: bool) -> Result<DocumentInfo, DocsError> {
        let document = self.find_document(id_or_path)?.ok_or_else(|| DocsError::UnknownDocument(id_or_path.to_string()))?;
        self.connection.execute("UPDATE documents SET private = ?2 WHERE id = ?1", params![document.id, private])?;
        self.find_document(&document.id.to_string())?.ok_or(DocsError::UnknownDocument(id_or_path.to_string()))
    }

    /// Marks a library folder private or not (every document inside it, now and later); false
    /// when it is not a library folder.
    pub fn set_folder_private(&mut self, folder: &Path, private: bool) -> Result<bool, DocsError> {
        let folder = canonical_folder(folder);
        let changed = self.connection.execute("UPDATE folders SET private = ?2 WHERE path = ?1", params![folder.to_string_lossy(), private])?;
        Ok(changed > 0)
    }

    /// The library folders with their privacy, in path order.
    pub fn folder_list(&self) -> Result<Vec<FolderInfo>, DocsError> {
        let mut statement = self.connection.prepare("SELECT path, private FROM folders ORDER BY path")?;
        let rows = statement.query_map([], |row| Ok(FolderInfo { path: row.get(0)?, private: row.get(1)? }))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn private_folders(&self) -> Result<Vec<PathBuf>, DocsError> {
        Ok(self.folder_list()?.into_iter().filter(|folder| folder.private).map(|folder| PathBuf::from(folder.path)).collect())
    }

    /// A document inside a private folder is private, whatever its own flag says.
    fn inherit_privacy(&self, document: &mut DocumentInfo, private_folders: &[PathBuf]) {
        if let Some(folder) = private_folders.iter().find(|folder| Path::new(&document.path).starts_with(folder)) {
            document.private = true;
            document.private_folder = Some(folder.to_string_lossy().into_owned());
        }
    }

    /// Number of chunks across all documents.
    pub fn chunk_count(&self) -> Result<usize, DocsError> {
        Ok(self.connection.query_row("SELECT count(*) FROM chunks", [], |row| row.get::<_, i64>(0))? as usize)
    }

    /// Removes a document given its id or its path (as added, or as stored).
    pub fn remove(&mut self, id_or_path: &str) -> Result<DocumentInfo, DocsError> {
        let document = self.find_document(id_or_path)?.ok_or_else(|| DocsError::UnknownDocument(id_or_path.to_string()))?;
        self.delete_document(document.id)?;
        Ok(document)
    }

    /// Deletes a document with its chunks (cascade) and FTS rows (trigger).
    pub(crate) fn delete_document(&mut self, document_id: i64) -> Result<(), DocsError> {
        self.connection.execute("DELETE FROM documents WHERE id = ?1", [document_id])?;
        self.vectors = None;
        Ok(())
    }

    fn find_document(&self, id_or_path: &str) -> Result<Option<DocumentInfo>, DocsError> {
        let mut found = None;
        if let Ok(id) = id_or_path.parse::<i64>() {
            found = self.connection.query_row(&format!("{DOCUMENT_COLUMNS} WHERE id = ?1"), [id], document_from_row).optional()?;
        }
        if found.is_none() {
            let stored_path = std::fs::canonicalize(id_or_path).map(|path| path.to_string_lossy().into_owned()).unwrap_or_else(|_| id_or_path.to_string());
            found = self
                .connection
                .query_row(&format!("{DOCUMENT_COLUMNS} WHERE path = ?1 OR path = ?2"), params![stored_path, id_or_path], document_from_row)
                .optional()?;
        }
        if let Some(document) = &mut found {
            self.inherit_privacy(document, &self.private_folders()?);
        }
        Ok(found)
    }

    /// What is stored for a path, if it is indexed.
    pub(crate) fn stored_file(&self, path: &str) -> Result<Option<StoredFile>, DocsError> {
        Ok(self
            .connection
            .query_row("SELECT id, content_hash, size_bytes, modified_ns FROM documents WHERE path = ?1", [path], |row| {
                Ok(StoredFile { document_id: row.get(0)?, content_hash: row.get(1)?, size_bytes: row.get::<_, i64>(2)? as u64, modified_ns: row.get(3)? })
            })
            .optional()?)
    }

    /// Records a new modification time for a file whose content did not change (a `touch`, a
    /// copy), so the next sync skips it without reading it.
    pub(crate) fn touch(&self, document_id: i64, modified_ns: Option<i64>) -> Result<(), DocsError> {
        self.connection.execute("UPDATE documents SET modified_ns = ?2 WHERE id = ?1", params![document_id, modified_ns])?;
        Ok(())
    }

    /// Folders added as a whole, in path order: what [`Library::sync`] rescans and a
    /// [`FolderWatcher`](crate::FolderWatcher) watches.
    pub fn folders(&self) -> Result<Vec<PathBuf>, DocsError> {
        let mut statement = self.connection.prepare("SELECT path FROM folders ORDER BY path")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
        Ok(rows.map(|row| row.map(PathBuf::from)).collect::<Result<Vec<_>, _>>()?)
    }

    pub(crate) fn remember_folder(&self, folder: &Path) -> Result<(), DocsError> {
        self.connection.execute("INSERT OR IGNORE INTO folders (path, added_at) VALUES (?1, ?2)", params![folder.to_string_lossy(), unix_seconds()])?;
        Ok(())
    }

    /// Stops syncing a folder (and folders inside it) and removes its documents; false when it
    /// is not a library folder. Works for a folder that no longer exists, too.
    pub fn remove_folder(&mut self, folder: &Path) -> Result<bool, DocsError> {
        let folder = canonical_folder(folder);
        if !self.folders()?.contains(&folder) {
            return Ok(false);
        }
        let transaction = self.connection.transaction()?;
        {
            let inside = |table: &str, key: &str| -> Result<Vec<String>, rusqlite::Error> {
                let mut statement = transaction.prepare(&format!("SELECT {key} FROM {table}"))?;
                let rows = statement.query_map([], |row| row.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?.into_iter().filter(|path| Path::new(path).starts_with(&folder)).collect())
            };
            for path in inside("folders", "path")? {
                transaction.execute("DELETE FROM folders WHERE path = ?1", [path])?;
            }
            for path in inside("documents", "path")? {
                transaction.execute("DELETE FROM documents WHERE path = ?1", [path])?;
            }
        }
        transaction.commit()?;
        self.vectors = None;
        Ok(true)
    }

    /// Replaces any earlier version of the document in one transaction, so readers and crashes
    /// only ever see the old document or the complete new one.
    pub(crate) fn replace_document(&mut self, document: &NewDocument<'_>, chunks: &[Chunk], embeddings: &[Vec<f32>]) -> Result<i64, DocsError> {
        let indexed_at = unix_seconds();
        let transaction = self.connection.transaction()?;
        // A new version of a private document stays private.
        let private: bool =
            transaction.query_row("SELECT private FROM documents WHERE path = ?1", [document.path], |row| row.get(0)).optional()?.unwrap_or(false);
        transaction.execute("DELETE FROM documents WHERE path = ?1", [document.path])?;
        transaction.execute(
            "INSERT INTO documents (path, title, format, content_hash, size_bytes, chunk_count, indexed_at, modified_ns, text, private)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                document.path,
                document.title,
                document.format.as_str(),
                document.content_hash,
                document.size_bytes as i64,
                chunks.len() as i64,
                indexed_at,
                document.modified_ns,
                document.text,
                private
            ],
        )?;
        let document_id = transaction.last_insert_rowid();
        {
            let mut insert =
                transaction.prepare("INSERT INTO pages (document_id, number, label, char_start, char_end, ocr_confidence) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?;
            for page in document.pages {
                insert.execute(params![
                    document_id,
                    page.number,
                    page.label,
                    page.char_start as i64,
                    page.char_end as i64,
                    page.ocr_confidence.map(f64::from)
                ])?;
            }
        }
        {
            let mut insert = transaction.prepare(
                "INSERT INTO chunks (document_id, ordinal, text, section, page_start, page_end, char_start, char_end, token_count, embedding, index_text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for (ordinal, (chunk, embedding)) in chunks.iter().zip(embeddings).enumerate() {
                insert.execute(params![
                    document_id,
                    ordinal as i64,
                    chunk.text,
                    chunk.section,
                    chunk.page_start,
                    chunk.page_end,
                    chunk.char_start as i64,
                    chunk.char_end as i64,
                    chunk.token_count as i64,
                    vector_to_blob(embedding),
                    index_text(&chunk.text),
                ])?;
            }
        }
        transaction.commit()?;
        self.vectors = None;
        Ok(document_id)
    }

    /// Loads every embedding into memory once; writes drop the cache.
    pub(crate) fn vector_index(&mut self) -> Result<&VectorIndex, DocsError> {
        let version: i64 = self.connection.query_row("PRAGMA data_version", [], |row| row.get(0))?;
        let index = match self.vectors.take() {
            Some(index) if version == self.vectors_version => index,
            _ => self.load_vectors()?,
        };
        self.vectors_version = version;
        Ok(self.vectors.insert(index))
    }

    fn load_vectors(&self) -> Result<VectorIndex, DocsError> {
        let mut statement = self.connection.prepare("SELECT id, embedding FROM chunks ORDER BY id")?;
        let mut rows = statement.query([])?;
        let mut index = VectorIndex { chunk_ids: Vec::new(), values: Vec::new(), dimension: 0 };
        while let Some(row) = rows.next()? {
            let blob: Vec<u8> = row.get(1)?;
            let vector = blob_to_vector(&blob);
            if index.dimension == 0 {
                index.dimension = vector.len();
            } else if vector.len() != index.dimension {
                return Err(DocsError::DimensionMismatch { stored: index.dimension, model: vector.len() });
            }
            index.chunk_ids.push(row.get(0)?);
            index.values.extend(vector);
        }
        Ok(index)
    }
}

/// Before `schema_versions`, the library kept its version in `PRAGMA user_version`, set in the
/// same transaction as each step. Without a `documents` table there is no library yet. A library
/// table with no version is read from its tables, should such a file ever turn up.
fn adopt_library(connection: &Connection) -> rusqlite::Result<i64> {
    if !table_exists(connection, "documents")? {
        return Ok(0);
    }
    let version = user_version(connection)?;
    if version > 0 {
        return Ok(version);
    }
    Ok(if column_exists(connection, "pages", "ocr_confidence")? {
        5
    } else if column_exists(connection, "documents", "private")? {
        4
    } else if table_exists(connection, "pages")? {
        3
    } else if table_exists(connection, "folders")? {
        2
    } else {
        1
    })
}

/// Library step 3's Rust half: the chunks stored before it get their folded `index_text`, and
/// the new word index is built from it.
fn fold_stored_chunks(connection: &Connection) -> rusqlite::Result<()> {
    let chunks: Vec<(i64, String)> =
        connection.prepare("SELECT id, text FROM chunks")?.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut update = connection.prepare("UPDATE chunks SET index_text = ?2 WHERE id = ?1")?;
    for (id, text) in chunks {
        update.execute(params![id, index_text(&text)])?;
    }
    connection.execute_batch("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');")
}

/// Slices `text` at character (not byte) ranges given in ascending order.
fn char_slices(text: &str, ranges: impl Iterator<Item = std::ops::Range<usize>>) -> Vec<&str> {
    let boundaries: Vec<usize> = text.char_indices().map(|(byte, _)| byte).chain(std::iter::once(text.len())).collect();
    let byte = |char_index: usize| boundaries[char_index.min(boundaries.len() - 1)];
    ranges.map(|range| &text[byte(range.start)..byte(range.end.max(range.start))]).collect()
}

/// The columns `document_from_row` reads, in its order.
const DOCUMENT_COLUMNS: &str = "SELECT id, path, title, format, content_hash, size_bytes, chunk_count, indexed_at, private FROM documents";

/// A folder as stored: canonical where it still exists, absolute where it does not.
fn canonical_folder(folder: &Path) -> PathBuf {
    std::fs::canonicalize(folder).or_else(|_| std::path::absolute(folder)).unwrap_or_else(|_| folder.to_path_buf())
}

fn document_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DocumentInfo> {
    let format: String = row.get(3)?;
    Ok(DocumentInfo {
        id: row.get(0)?,
        path: row.get(1)?,
        title: row.get(2)?,
        format: DocumentFormat::from_name(&format).unwrap_or(DocumentFormat::Text),
        content_hash: row.get(4)?,
        size_bytes: row.get::<_, i64>(5)? as u64,
        chunk_count: row.get::<_, i64>(6)? as usize,
        indexed_at: row.get(7)?,
        private: row.get(8)?,
        private_folder: None,
    })
}

fn unix_seconds() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|elapsed| elapsed.as_secs() as i64).unwrap_or(0)
}

fn vector_to_blob(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|value| value.to_le_bytes()).collect()
}

fn blob_to_vector(blob: &[u8]) -> Vec<f32> {
    blob.chunks_exact(4).map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A library written by the first release (schema 1) opens, keeps its documents and gains
    /// folders, modification times, the folded word index and kept text; its documents lose
    /// their hash so the next add or sync reads them again.
    #[test]
    fn a_version_1_library_is_migrated_in_place() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("library.sqlite");
        {
            let connection = Connection::open(&path).expect("create");
            let schema_1 = include_str!("../migrations/library/0001_documents_and_chunks.sql");
            connection.execute_batch(&format!("{schema_1} PRAGMA user_version = 1;")).expect("schema 1");
            connection
                .execute(
                    "INSERT INTO documents (path, title, format, content_hash, size_bytes, chunk_count, indexed_at) VALUES ('/old.txt', 'Old', 'text', 'abc', 3, 1, 0)",
                    [],
                )
                .expect("insert");
            connection
                .execute(
                    "INSERT INTO chunks (document_id, ordinal, text, page_start, page_end, char_start, char_end, token_count, embedding)
                     VALUES (1, 0, 'The ﬁle lists 東京都 sights.', NULL, NULL, 0, 10, 5, x'')",
                    [],
                )
                .expect("insert chunk");
        }
        let library = Library::open(&path).expect("migrate");
        let stored = library.stored_file("/old.txt").expect("query").expect("kept");
        assert_eq!((stored.content_hash.as_str(), stored.size_bytes, stored.modified_ns), ("", 3, None));
        assert!(library.folders().expect("folders").is_empty());
        for term in ["\"file\"", "\"京都\""] {
            let found: i64 =
                library.connection.query_row("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1", [term], |row| row.get(0)).expect("match");
            assert_eq!(found, 1, "{term} not found after the migration");
        }
        assert!(matches!(library.document_text("/old.txt"), Err(DocsError::TextNotKept { .. })));
        let version = automix_sqlite::migrate::recorded_version(&library.connection, "library").expect("version");
        assert_eq!(version, Some(LIBRARY.latest()));
    }

    fn store_document(library: &mut Library, path: &str) -> i64 {
        let document = NewDocument {
            path,
            text: "A private fact.",
            pages: &[],
            title: "Doc",
            format: DocumentFormat::Text,
            content_hash: path,
            size_bytes: 15,
            modified_ns: None,
        };
        let chunk = Chunk { text: "A private fact.".into(), section: None, page_start: None, page_end: None, char_start: 0, char_end: 15, token_count: 4 };
        library.replace_document(&document, &[chunk], &[vec![1.0, 0.0]]).expect("store")
    }

    /// A document is private by its own flag or by its folder's; the flag survives the document
    /// being read again, and a folder's flag covers documents added to it later.
    #[test]
    fn privacy_comes_from_the_document_or_its_folder_and_survives_reindexing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open");
        let folder = dir.path().join("contracts");
        std::fs::create_dir(&folder).expect("folder");
        let folder = std::fs::canonicalize(&folder).expect("canonical");
        library.remember_folder(&folder).expect("folder");
        let inside = store_document(&mut library, &folder.join("lease.txt").to_string_lossy());
        store_document(&mut library, "/notes/recipes.txt");
        assert!(library.private_document_ids().expect("ids").is_empty(), "nothing is private by default");

        let marked = library.set_document_private("/notes/recipes.txt", true).expect("mark");
        assert!(marked.private && marked.private_folder.is_none());
        // Indexing a new version replaces the row; the flag stays.
        let outside_again = store_document(&mut library, "/notes/recipes.txt");
        assert_eq!(library.private_document_ids().expect("ids"), [outside_again].into());

        assert!(library.set_folder_private(&folder, true).expect("folder flag"));
        assert!(!library.set_folder_private(Path::new("/not/a/library/folder"), true).expect("unknown folder"));
        let later = store_document(&mut library, &folder.join("later.txt").to_string_lossy());
        assert_eq!(library.private_document_ids().expect("ids"), [outside_again, inside, later].into());
        let listed = library.documents().expect("documents");
        let lease = listed.iter().find(|d| d.id == inside).expect("listed");
        assert_eq!(lease.private_folder.as_deref(), Some(folder.to_string_lossy().as_ref()));
        // Clearing the document's own flag does not lift the folder's.
        assert!(library.set_document_private(&inside.to_string(), false).expect("unmark").private);

        assert!(library.set_folder_private(&folder, false).expect("folder flag off"));
        assert_eq!(library.private_document_ids().expect("ids"), [outside_again].into());
        assert_eq!(library.folder_list().expect("folders"), vec![FolderInfo { path: folder.to_string_lossy().into_owned(), private: false }]);
    }
}
