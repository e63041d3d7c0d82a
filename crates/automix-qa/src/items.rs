//! QA items with gold answers (the evaluation sets in `../shared/data`, gzipped JSONL with the
//! format in its SOURCES.md; the calibration set the app ships) and large models' recorded answers.

use std::collections::HashMap;
use std::path::Path;

use crate::jsonl::{read_jsonl, JsonLinesError};
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

pub fn read_items(path: &Path) -> Result<Vec<QaItem>, JsonLinesError> {
    read_jsonl(path)
}

/// Items from JSONL text (one item per non-empty line); the error names the line.
pub fn parse_items(text: &str) -> Result<Vec<QaItem>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(index, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", index + 1)))
        .collect()
}

/// Recorded answers grouped by item id.
pub fn read_recorded_answers(path: &Path) -> Result<HashMap<String, Vec<RecordedAnswer>>, JsonLinesError> {
    let mut by_id: HashMap<String, Vec<RecordedAnswer>> = HashMap::new();
    for answer in read_jsonl::<RecordedAnswer>(path)? {
        by_id.entry(answer.id.clone()).or_default().push(answer);
    }
    Ok(by_id)
}
