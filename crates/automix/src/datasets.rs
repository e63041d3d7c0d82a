//! Reading the evaluation sets in `../shared/data` (gzipped JSONL; format in its SOURCES.md).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct QaItem {
    pub id: String,
    pub dataset: String,
    pub context: String,
    pub question: String,
    #[serde(default)]
    pub answers: Vec<String>,
    /// "f1" or "accuracy".
    pub metric: String,
    #[serde(default)]
    pub choices: Vec<String>,
    pub gold_index: Option<usize>,
}

/// A large model's recorded answer to an item.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedAnswer {
    pub id: String,
    pub model: String,
    pub answer: String,
    pub correct: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}, line {line}: {source}")]
    Parse { path: PathBuf, line: usize, source: serde_json::Error },
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, DatasetError> {
    let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut rows = Vec::new();
    for (index, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| DatasetError::Io { path: path.to_path_buf(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(serde_json::from_str(&line).map_err(|source| DatasetError::Parse { path: path.to_path_buf(), line: index + 1, source })?);
    }
    Ok(rows)
}

pub fn read_items(path: &Path) -> Result<Vec<QaItem>, DatasetError> {
    read_jsonl(path)
}

/// Recorded answers grouped by item id.
pub fn read_recorded_answers(path: &Path) -> Result<HashMap<String, Vec<RecordedAnswer>>, DatasetError> {
    let mut by_id: HashMap<String, Vec<RecordedAnswer>> = HashMap::new();
    for answer in read_jsonl::<RecordedAnswer>(path)? {
        by_id.entry(answer.id.clone()).or_default().push(answer);
    }
    Ok(by_id)
}
