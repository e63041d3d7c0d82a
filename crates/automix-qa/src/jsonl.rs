//! JSON Lines files (gzipped when the name ends in `.gz`): the QA sets, the recorded answers and
//! the routing tables are all read through here.

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::de::DeserializeOwned;

/// Errors reading a JSON Lines file.
#[derive(Debug, thiserror::Error)]
pub enum JsonLinesError {
    /// The file cannot be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line is not valid JSON of the expected shape.
    #[error("{path}, line {line}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Opens a text file for line reading, decompressing it when the name ends in `.gz`.
pub fn open_lines(path: &Path) -> std::io::Result<Box<dyn BufRead>> {
    let file = std::fs::File::open(path)?;
    Ok(if path.extension().is_some_and(|e| e == "gz") { Box::new(BufReader::new(flate2::read::GzDecoder::new(file))) } else { Box::new(BufReader::new(file)) })
}

/// Reads JSON Lines (gzipped when the name ends in .gz; blank lines skipped) into rows of `T`.
pub fn read_jsonl<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, JsonLinesError> {
    let shown = path.display().to_string();
    let reader = open_lines(path).map_err(|source| JsonLinesError::Io { path: shown.clone(), source })?;
    let mut rows = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| JsonLinesError::Io { path: shown.clone(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let row = serde_json::from_str(&line).map_err(|source| JsonLinesError::Parse { path: shown.clone(), line: index + 1, source })?;
        rows.push(row);
    }
    Ok(rows)
}
