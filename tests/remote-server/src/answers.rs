//! Recorded large-model answers joined to their questions, looked up by question text.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;
use serde::Deserialize;

/// Datasets in `llm-answers/` that have recorded answers.
const REPLAYED_DATASETS: [&str; 2] = ["quality", "hotpotqa_reflexion"];

/// Errors loading the shared data.
#[derive(Debug, thiserror::Error)]
pub enum AnswerBookError {
    /// A data file is missing or unreadable.
    #[error("cannot read {path}: {source}; set AUTOMIX_SHARED_DATA to the shared data folder (the one holding qa/ and llm-answers/)")]
    Read { path: PathBuf, source: std::io::Error },
    /// A line is not the documented JSON shape.
    #[error("{path} line {line}: {source}")]
    Parse { path: PathBuf, line: usize, source: serde_json::Error },
}

#[derive(Deserialize)]
struct QaItem {
    id: String,
    context: String,
    question: String,
    #[serde(default)]
    choices: Vec<String>,
}

#[derive(Deserialize)]
struct RecordedAnswer {
    id: String,
    model: String,
    answer: String,
    #[serde(default)]
    choice: Option<String>,
}

/// Where a served answer came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerSource {
    /// A recorded answer for the item with this id, by this model.
    Recorded { id: String, model: String },
    /// No known question matched.
    Fallback,
}

#[derive(Debug, Clone)]
struct Entry {
    id: String,
    question: String,
    model: String,
    context: String,
    answer: String,
}

/// Recorded answers keyed by normalised question text.
#[derive(Debug, Default)]
pub struct AnswerBook {
    by_question: HashMap<String, Vec<Entry>>,
}

/// The shared data folder: `AUTOMIX_SHARED_DATA`, else `../shared/data` beside the repository.
pub fn default_data_dir() -> PathBuf {
    match std::env::var_os("AUTOMIX_SHARED_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    }
}

fn read_jsonl<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, AnswerBookError> {
    let file = std::fs::File::open(path).map_err(|source| AnswerBookError::Read { path: path.into(), source })?;
    let mut items = Vec::new();
    for (index, line) in BufReader::new(GzDecoder::new(file)).lines().enumerate() {
        let line = line.map_err(|source| AnswerBookError::Read { path: path.into(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let item = serde_json::from_str(&line).map_err(|source| AnswerBookError::Parse { path: path.into(), line: index + 1, source })?;
        items.push(item);
    }
    Ok(items)
}

/// Lower-case, letters and digits only, single spaces: survives quoting and punctuation changes.
pub fn normalize(text: &str) -> String {
    text.chars().map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' }).collect::<String>().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Prefers GPT-4 answers, the strongest recorded model.
fn model_rank(model: &str) -> u8 {
    if model.starts_with("gpt-4") {
        0
    } else {
        1
    }
}

impl AnswerBook {
    /// Loads the replayed datasets from `data_dir` (holding `qa/` and `llm-answers/`).
    pub fn load(data_dir: &Path) -> Result<Self, AnswerBookError> {
        let mut book = AnswerBook::default();
        for dataset in REPLAYED_DATASETS {
            let items: Vec<QaItem> = read_jsonl(&data_dir.join("qa").join(format!("{dataset}.jsonl.gz")))?;
            let items: HashMap<String, QaItem> = items.into_iter().map(|item| (item.id.clone(), item)).collect();
            let mut answers: Vec<RecordedAnswer> = read_jsonl(&data_dir.join("llm-answers").join(format!("{dataset}.jsonl.gz")))?;
            answers.sort_by_key(|answer| model_rank(&answer.model));
            for answer in answers {
                let Some(item) = items.get(&answer.id) else { continue };
                let entries = book.by_question.entry(normalize(&item.question)).or_default();
                if entries.iter().any(|entry| entry.id == answer.id) {
                    continue;
                }
                entries.push(Entry {
                    id: answer.id.clone(),
                    question: item.question.clone(),
                    model: answer.model.clone(),
                    context: item.context.clone(),
                    answer: render_answer(&answer, &item.choices),
                });
            }
        }
        Ok(book)
    }

    /// How many distinct questions have a recorded answer.
    pub fn len(&self) -> usize {
        self.by_question.values().map(Vec::len).sum()
    }

    /// Whether no answers were loaded.
    pub fn is_empty(&self) -> bool {
        self.by_question.is_empty()
    }

    /// Known questions with their recorded answers, in a stable order (for tests).
    pub fn known_questions(&self) -> Vec<(String, String)> {
        let mut known: Vec<(String, String)> =
            self.by_question.values().flat_map(|entries| entries.iter().map(|entry| (entry.question.clone(), entry.answer.clone()))).collect();
        known.sort();
        known
    }

    /// The answer for a user message holding `Question: ...` (or being the question), with its source.
    pub fn answer_for(&self, user_message: &str) -> (String, AnswerSource) {
        let (context_part, question) = match user_message.rfind("Question:") {
            Some(at) => (&user_message[..at], &user_message[at + "Question:".len()..]),
            None => ("", user_message),
        };
        if let Some(entries) = self.by_question.get(&normalize(question)) {
            // A few questions repeat across articles; the sent context tells them apart.
            let sent_context = normalize(context_part);
            let entry =
                entries.iter().find(|entry| !sent_context.is_empty() && shares_passage(&normalize(&entry.context), &sent_context)).unwrap_or(&entries[0]);
            return (entry.answer.clone(), AnswerSource::Recorded { id: entry.id.clone(), model: entry.model.clone() });
        }
        (fallback_answer(question), AnswerSource::Fallback)
    }
}

/// Whether some 8-word window of the sent context occurs in the item's context.
fn shares_passage(item_context: &str, sent_context: &str) -> bool {
    let words: Vec<&str> = sent_context.split(' ').collect();
    words.windows(8).any(|window| item_context.contains(&window.join(" ")))
}

fn render_answer(answer: &RecordedAnswer, choices: &[String]) -> String {
    let letter_index = |letter: &str| letter.chars().next().map(|c| (c as usize).wrapping_sub('A' as usize));
    match answer.choice.as_deref().and_then(letter_index).and_then(|index| choices.get(index)) {
        Some(text) => format!("{}) {}", answer.answer.trim(), text.trim()),
        None => answer.answer.trim().to_string(),
    }
}

/// A stable answer for unknown questions, so tests can predict it.
pub fn fallback_answer(question: &str) -> String {
    let words = normalize(question).split(' ').filter(|word| !word.is_empty()).count();
    format!("The provided context does not settle this question ({words} words asked); here is a cautious summary instead.")
}
