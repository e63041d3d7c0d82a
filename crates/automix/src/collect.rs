//! Routing tables from the app's own pipeline: a QA set's contexts go into a document library, and
//! each question is asked about its document through `Assistant::observe`, exactly as a user's
//! question would be (retrieval, prompt, answer, verification, signals). Each row records the
//! answer, its score against the gold answers, the signals and the tokens spent (see
//! `automix_router::table`).

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use automix_docs::IndexOptions;
use automix_qa::{answer_score, choice_accuracy, QaItem, RecordedAnswer};
use automix_remote::CancelFlag;
use automix_router::{read_table, RemoteCall, RoutingRow, ScoredAnswer, TokenCounts};

use crate::answer_checks::is_refusal;
use crate::assistant::{AskError, Assistant, AssistantConfig, AssistantPaths, RemoteModel, Scope};

/// Where a collection is in its run, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum CollectProgress {
    /// Putting the contexts into the scratch library.
    Indexing { files_done: usize, files_total: usize },
    /// Answering: `done` of `total` items (rows already in the table count as done).
    Answering { done: usize, total: usize, correct: usize },
}

/// An assistant for collecting: the models of `home` and the settings' configuration, but its own
/// library and history under `work_dir`, so the user's documents and history are never touched.
pub fn scratch_assistant(home: &Path, work_dir: &Path, config: AssistantConfig, model_id: &str) -> Result<Assistant, AskError> {
    let mut paths = AssistantPaths::from_home(home);
    paths.library = work_dir.join(automix_docs::LIBRARY_FILE_NAME);
    paths.history = work_dir.join("history.sqlite");
    paths.learning_since = work_dir.join(crate::assistant::LEARNING_SINCE_FILE);
    std::fs::create_dir_all(work_dir).map_err(|source| AskError::Io { path: work_dir.to_path_buf(), source })?;
    let assistant = Assistant::open(&paths, None, config)?;
    assistant.load_embedder()?;
    assistant.load_chat_model(model_id)?;
    Ok(assistant)
}

/// The remote model a collection records answers from: `endpoint` and `model` as given, through
/// the same client, answer token limit and price rules as the app's escalations. The price is
/// `price` when given, else the settings' override when `model` is the settings' remote model,
/// else the bundled price list (a loopback server costs nothing unless listed). The keychain's API
/// key is sent only to the settings' own endpoint: collecting against another server never hands
/// it the user's key.
pub fn remote_for_collecting(
    settings: &crate::settings::Settings,
    keys: &automix_remote::KeyStore,
    endpoint: &str,
    model: &str,
    price: Option<automix_types::ModelPrice>,
) -> Result<RemoteModel, AskError> {
    let mut settings = settings.clone();
    let same_endpoint = settings.remote.endpoint.trim() == endpoint.trim();
    if settings.remote.model.trim() != model.trim() {
        settings.remote.input_per_million = None;
        settings.remote.output_per_million = None;
    }
    if let Some(price) = price {
        settings.remote.input_per_million = Some(price.input_per_million);
        settings.remote.output_per_million = Some(price.output_per_million);
    }
    settings.remote.endpoint = endpoint.trim().to_string();
    settings.remote.model = model.trim().to_string();
    if !settings.has_remote() {
        return Err(AskError::NoRemote);
    }
    let key = if same_endpoint { keys.load()?.map(|(key, _)| key) } else { None };
    RemoteModel::with_key(&settings, key)
}

/// Answers every item not yet in the table at `out` and appends its row, one flushed line per
/// item: a kill or a cancel loses at most the item in progress, and the next run resumes. With a
/// `remote` model, each item's escalation payload is also sent to it through the app's client
/// and its answer recorded beside the local one (`collect_item`).
#[allow(clippy::too_many_arguments)]
pub fn collect_table(
    assistant: &Assistant,
    items: &[QaItem],
    recorded: &HashMap<String, Vec<RecordedAnswer>>,
    remote: Option<&RemoteModel>,
    out: &Path,
    work_dir: &Path,
    progress: &mut dyn FnMut(CollectProgress),
    cancel: &CancelFlag,
) -> Result<Vec<RoutingRow>, AskError> {
    let io_error = |source| AskError::Io { path: out.to_path_buf(), source };
    let mut rows = if out.exists() { read_table(out)? } else { Vec::new() };
    let done: HashSet<String> = rows.iter().map(|row| row.id.clone()).collect();
    let todo: Vec<&QaItem> = items.iter().filter(|item| !done.contains(&item.id)).collect();
    let documents =
        index_contexts(assistant, items, work_dir, &mut |files_done, files_total| progress(CollectProgress::Indexing { files_done, files_total }), cancel)?;
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io_error)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(out).map_err(io_error)?;
    let total = rows.len() + todo.len();
    let mut correct = rows.iter().filter(|row| row.slm.correct()).count();
    progress(CollectProgress::Answering { done: rows.len(), total, correct });
    let no_answers = Vec::new();
    for item in todo {
        let Some(&document_id) = documents.get(&item.context) else {
            return Err(AskError::Router(format!("item {}: its context could not be indexed (empty?)", item.id)));
        };
        let row = collect_item(assistant, item, document_id, recorded.get(&item.id).unwrap_or(&no_answers), remote, cancel)?;
        let line = serde_json::to_string(&row).map_err(|e| io_error(std::io::Error::other(e)))?;
        writeln!(file, "{line}").and_then(|()| file.flush()).map_err(io_error)?;
        correct += usize::from(row.slm.correct());
        rows.push(row);
        progress(CollectProgress::Answering { done: rows.len(), total, correct });
    }
    Ok(rows)
}

/// Puts the distinct contexts of `items` into the assistant's library, one text file each under
/// `work_dir`, and returns the document id of each context. Files already indexed are skipped, so
/// a resumed run indexes only what is new.
pub fn index_contexts(
    assistant: &Assistant,
    items: &[QaItem],
    work_dir: &Path,
    progress: &mut dyn FnMut(usize, usize),
    cancel: &CancelFlag,
) -> Result<HashMap<String, i64>, AskError> {
    let folder = work_dir.join("contexts");
    std::fs::create_dir_all(&folder).map_err(|source| AskError::Io { path: folder.clone(), source })?;
    let mut files: HashMap<String, PathBuf> = HashMap::new();
    for item in items {
        if files.contains_key(&item.context) {
            continue;
        }
        // Named after the first item that reads it, so a resumed run maps it to the same document.
        let name: String = item.id.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
        let path = folder.join(format!("{name}.txt"));
        if !path.exists() {
            std::fs::write(&path, &item.context).map_err(|source| AskError::Io { path: path.clone(), source })?;
        }
        files.insert(item.context.clone(), path);
    }
    let paths: Vec<PathBuf> = files.values().cloned().collect();
    let embedder = assistant.embedder()?;
    assistant.library().add_paths(&embedder, &paths, &IndexOptions::default(), &mut |state| progress(state.files_done, state.files_total), cancel)?;
    let ids: HashMap<String, i64> = assistant.documents()?.into_iter().map(|document| (document.path, document.id)).collect();
    Ok(files
        .into_iter()
        .filter_map(|(context, path)| {
            let key = std::fs::canonicalize(&path).unwrap_or(path).to_string_lossy().into_owned();
            ids.get(&key).map(|&id| (context, id))
        })
        .collect())
}

/// Asks one item's question about its document and scores the answer. With a `remote` model,
/// sends the payload the app would escalate (`Observation::escalation_payload`) through the app's
/// streaming client and records the remote answer, scored like the local one, with its usage,
/// priced cost and latency. A remote failure ends the run (the table keeps the rows before it):
/// a row without its remote answer would make the cascade look cheaper than it is.
pub fn collect_item(
    assistant: &Assistant,
    item: &QaItem,
    document_id: i64,
    recorded: &[RecordedAnswer],
    remote: Option<&RemoteModel>,
    cancel: &CancelFlag,
) -> Result<RoutingRow, AskError> {
    // A yes/no question is asked as it is, as a user would; other choices are listed.
    let yes_no = item.choices.iter().map(|c| c.to_lowercase()).eq(["yes", "no"]);
    let question = if item.metric == "accuracy" && !yes_no { with_choices(&item.question, &item.choices) } else { item.question.clone() };
    let observation = assistant.observe(&question, &Scope::Documents(vec![document_id]), None, &mut |_| {}, cancel)?;
    let answer = observation.answer.text.trim().to_string();
    // Remote answers are scored exactly like the local one.
    let mut llm: Vec<ScoredAnswer> = recorded
        .iter()
        .map(|r| ScoredAnswer {
            model: r.model.clone(),
            score: if item.metric == "accuracy" { f64::from(u8::from(r.correct)) } else { score_answer(item, &r.answer) },
            answer: r.answer.clone(),
            ..Default::default()
        })
        .collect();
    if let Some(remote) = remote {
        llm.push(record_remote_answer(assistant, remote, item, &observation.escalation_payload(&question).payload, cancel)?);
    }
    Ok(RoutingRow {
        id: item.id.clone(),
        dataset: item.dataset.clone(),
        question: item.question.clone(),
        slm: ScoredAnswer {
            model: observation.model_name,
            score: score_answer(item, &answer),
            answer,
            latency_ms: Some(observation.answer_ms + observation.checks_ms),
            call: None,
        },
        signals: observation.signals,
        tokens: TokenCounts {
            prompt: observation.answer.timings.prefill_tokens as u32,
            generated: observation.answer.tokens.len() as u32,
            verify: observation.verification.tokens_processed as u32,
        },
        llm,
    })
}

/// One escalation as the app makes it, without the ledger: the same payload, client, answer
/// token limit and price, but nothing reserved or charged (collecting is not the user's spending).
fn record_remote_answer(
    assistant: &Assistant,
    remote: &RemoteModel,
    item: &QaItem,
    payload: &automix_types::EscalationPayload,
    cancel: &CancelFlag,
) -> Result<ScoredAnswer, AskError> {
    let reply = remote.client.chat_stream(payload, remote.max_tokens, |_| {}, &mut |_| {}, cancel).map_err(|error| match error {
        automix_remote::RemoteError::Cancelled { .. } => AskError::Cancelled,
        other => AskError::Remote(other),
    })?;
    let answer = reply.text.trim().to_string();
    let usage = reply.usage;
    Ok(ScoredAnswer {
        model: remote.model.clone(),
        score: score_answer(item, &answer),
        answer,
        latency_ms: Some(reply.latency_ms),
        call: Some(RemoteCall {
            prompt_tokens: usage.prompt_tokens as u32,
            completion_tokens: usage.completion_tokens as u32,
            usage_estimated: reply.usage_estimated,
            cost: remote.price.cost(usage.prompt_tokens, usage.completion_tokens).as_units(),
            currency: assistant.ledger().settings()?.currency,
            endpoint: remote.client.settings().endpoint.clone(),
        }),
    })
}

/// Copies into `rows` the remote answers that `donor` rows recorded for the same items (by id),
/// skipping models a row already has: a second local model's table then shares the first one's
/// remote answers instead of asking the remote model again. Returns how many rows gained one.
pub fn merge_remote_answers(rows: &mut [RoutingRow], donor: &[RoutingRow]) -> usize {
    let by_id: HashMap<&str, &RoutingRow> = donor.iter().map(|row| (row.id.as_str(), row)).collect();
    let mut gained = 0;
    for row in rows.iter_mut() {
        let Some(source) = by_id.get(row.id.as_str()) else { continue };
        let before = row.llm.len();
        for answer in &source.llm {
            if !row.llm.iter().any(|a| a.model == answer.model) {
                row.llm.push(answer.clone());
            }
        }
        gained += usize::from(row.llm.len() > before);
    }
    gained
}

/// How right a free-text answer is: the chosen option for multiple choice; for an unanswerable
/// question (no gold answer), whether it declines; else 1 when it contains a gold answer, or its
/// token F1 (a soft label).
pub fn score_answer(item: &QaItem, answer: &str) -> f64 {
    if item.metric == "accuracy" {
        return item.gold_index.map_or(0.0, |gold| choice_accuracy(answer, &item.choices, gold));
    }
    if item.answers.is_empty() {
        return f64::from(u8::from(is_refusal(answer)));
    }
    answer_score(answer, &item.answers)
}

fn choice_letter(index: usize) -> char {
    char::from(b'A' + index as u8)
}

fn with_choices(question: &str, choices: &[String]) -> String {
    let listed: Vec<String> = choices.iter().enumerate().map(|(i, c)| format!("{}) {}", choice_letter(i), c.trim())).collect();
    format!("{}\n{}\nName the letter of the right choice.", question.trim(), listed.join("\n"))
}

/// Orders items so those sharing a context are adjacent (their prefill is then shared).
pub fn group_by_context(items: &mut [QaItem]) {
    let mut first_seen: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        first_seen.entry(item.context.clone()).or_insert(i);
    }
    items.sort_by_key(|item| first_seen[&item.context]);
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    fn row(id: &str, llm: &[&str]) -> RoutingRow {
        RoutingRow {
            id: id.into(),
            dataset: "d".into(),
            question: "q?".into(),
            slm: ScoredAnswer::default(),
            signals: Default::default(),
            tokens: TokenCounts::default(),
            llm: llm.iter().map(|m| ScoredAnswer { model: (*m).into(), answer: format!("{m} says"), score: 1.0, ..Default::default() }).collect(),
        }
    }

    #[test]
    fn remote_answers_join_by_id_without_duplicating_a_model() {
        let mut rows = vec![row("a", &[]), row("b", &["gpt-4"]), row("c", &[])];
        let donor = vec![row("a", &["qwen", "gpt-4"]), row("b", &["qwen", "gpt-4"])];
        assert_eq!(merge_remote_answers(&mut rows, &donor), 2);
        let models = |r: &RoutingRow| r.llm.iter().map(|a| a.model.clone()).collect::<Vec<_>>();
        assert_eq!(models(&rows[0]), ["qwen", "gpt-4"]);
        assert_eq!(models(&rows[1]), ["gpt-4", "qwen"], "the row's own gpt-4 answer is kept, not doubled");
        assert!(rows[2].llm.is_empty(), "an item the donor lacks gains nothing");
        assert_eq!(merge_remote_answers(&mut rows, &donor), 0, "merging twice changes nothing");
    }
}
