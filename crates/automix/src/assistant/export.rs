//! Exporting answers with their receipts: a conversation, or the history as filtered, to
//! Markdown (for reading and sharing) or JSON (for scripts), from the stored records only: each
//! answer with its citations and pages, its badge and the reason, the confidence and the cost.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use automix_types::{utc_timestamp, RouteDecision};

use super::{AnswerView, AskError, Assistant};

/// Which answers to export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExportSelection {
    /// One conversation, oldest answer first.
    Conversation {
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        id: i64,
    },
    /// The history as the History view filters it, newest first.
    History { escalated_only: bool, search: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Markdown,
    Json,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Markdown => "md",
            ExportFormat::Json => "json",
        }
    }
}

/// The JSON export: the answers as the app shows them, and their total cost.
#[derive(Debug, Serialize)]
struct JsonExport<'a> {
    exported_at_ms: i64,
    selection: &'a ExportSelection,
    answers: &'a [AnswerView],
    total_cost: f64,
}

/// Where the app saves exports: `$AUTOMIX_EXPORT_DIR` when set, else the user's Downloads folder
/// (`~/Downloads`), else `exports/` in the AutoMix home.
pub fn export_dir(home: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("AUTOMIX_EXPORT_DIR").filter(|dir| !dir.is_empty()) {
        return PathBuf::from(dir);
    }
    match std::env::var_os("HOME").map(|home| PathBuf::from(home).join("Downloads")) {
        Some(downloads) if downloads.is_dir() => downloads,
        _ => home.join("exports"),
    }
}

impl Assistant {
    /// Writes the export to a new file in [`export_dir`] (never over an earlier one) and returns
    /// its path: `automix-conversation-5-2026-12-07.md`, `automix-history-2026-12-07-2.json`.
    pub fn export_to_file(&self, selection: &ExportSelection, format: ExportFormat) -> Result<PathBuf, AskError> {
        let text = self.export(selection, format)?;
        let dir = export_dir(&self.paths().home);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AskError::Io { path, source }
        };
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let day = &utc_timestamp(automix_budget::now_ms())[..10];
        let stem = match selection {
            ExportSelection::Conversation { id } => format!("automix-conversation-{id}-{day}"),
            ExportSelection::History { .. } => format!("automix-history-{day}"),
        };
        for n in 1.. {
            let name = if n == 1 { format!("{stem}.{}", format.extension()) } else { format!("{stem}-{n}.{}", format.extension()) };
            let path = dir.join(name);
            // create_new: an existing export is never overwritten, even by a concurrent one.
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io(&path))?;
                    return Ok(path);
                }
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(io(&path)(error)),
            }
        }
        unreachable!("the loop returns or fails")
    }

    /// The selected answers as a Markdown or JSON document.
    pub fn export(&self, selection: &ExportSelection, format: ExportFormat) -> Result<String, AskError> {
        let (title, answers) = match selection {
            ExportSelection::Conversation { id } => {
                let conversation = self.history.conversations()?.into_iter().find(|c| c.id == *id);
                let title = conversation.ok_or(AskError::History(automix_history::StoreError::NoSuchConversation(*id)))?.title;
                (title, self.conversation_answers(*id)?)
            }
            ExportSelection::History { escalated_only, search } => {
                let answers = self.history.list(*escalated_only, search, usize::MAX)?.iter().map(AnswerView::from_stored).collect();
                let mut filters = Vec::new();
                if *escalated_only {
                    filters.push("escalated only".to_string());
                }
                if !search.trim().is_empty() {
                    filters.push(format!("matching “{}”", search.trim()));
                }
                let title = if filters.is_empty() { "History".to_string() } else { format!("History ({})", filters.join(", ")) };
                (title, answers)
            }
        };
        let now = automix_budget::now_ms();
        Ok(match format {
            ExportFormat::Markdown => markdown(&title, &answers, now),
            ExportFormat::Json => {
                let total_cost = answers.iter().map(|answer| answer.cost).sum();
                let export = JsonExport { exported_at_ms: now, selection, answers: &answers, total_cost };
                serde_json::to_string_pretty(&export).expect("answers serialise") + "\n"
            }
        })
    }
}

/// The badge as the app words it: who answered, and what it cost or how sure the local model was.
pub fn badge(answer: &AnswerView) -> String {
    match answer.decision {
        RouteDecision::Escalate if answer.remote_answer.is_none() => {
            format!("Stayed local · {} failed", answer.remote_model.as_deref().unwrap_or("the remote model"))
        }
        RouteDecision::Escalate => {
            format!("Escalated to {} · {}", answer.remote_model.as_deref().unwrap_or("the remote model"), money(answer.cost, &answer.currency))
        }
        RouteDecision::Local => match answer.local_confidence {
            Some(confidence) => format!("Local · {:.0}% confident", confidence * 100.0),
            None => "Local".to_string(),
        },
        RouteDecision::StayLocal | RouteDecision::StayLocalBudget => "Stayed local".to_string(),
        RouteDecision::AwaitingApproval => "Local · waiting for your approval to send".to_string(),
    }
}

fn money(amount: f64, currency: &str) -> String {
    format!("{amount:.6} {currency}").trim().to_string()
}

fn markdown(title: &str, answers: &[AnswerView], now_ms: i64) -> String {
    let mut out = format!("# {title}\n\nExported from AutoMix on {}. ", utc_timestamp(now_ms));
    let total: f64 = answers.iter().map(|answer| answer.cost).sum();
    let currency = answers.iter().map(|answer| answer.currency.as_str()).find(|currency| !currency.is_empty()).unwrap_or("");
    let escalated = answers.iter().filter(|answer| answer.remote_answer.is_some()).count();
    out.push_str(&format!(
        "{} {}, {escalated} answered by a remote model, total cost {}.\n",
        answers.len(),
        if answers.len() == 1 { "answer" } else { "answers" },
        money(total, currency)
    ));
    for answer in answers {
        out.push_str(&format!("\n## {}\n\n", answer.question.trim()));
        out.push_str(&format!("*Asked {}* · **{}**\n\n", utc_timestamp(answer.asked_at_ms), badge(answer)));
        let shown = answer.remote_answer.as_deref().unwrap_or(&answer.local_answer);
        out.push_str(&quote(shown));
        out.push_str(&format!("\n**Why:** {}\n", answer.reason));
        let mut facts = Vec::new();
        if let Some(confidence) = answer.local_confidence {
            facts.push(format!("local answer {:.0}% likely right", confidence * 100.0));
        }
        if let Some(v) = answer.verifier_value {
            facts.push(format!("the local answer's self-check {:.0}%", v * 100.0));
        }
        facts.push(format!("cost {}", money(answer.cost, &answer.currency)));
        if let Some(estimate) = answer.estimated_cost {
            facts.push(format!("worst case {}", money(estimate, &answer.currency)));
        }
        out.push_str(&format!("\n{}.\n", capitalise(&facts.join(", "))));
        if answer.remote_answer.is_some() {
            out.push_str(&format!("\nThe local answer ({}), not shown:\n\n{}", answer.local_model, quote(&answer.local_answer)));
        }
        if let Some(error) = &answer.remote_error {
            out.push_str(&format!("\nThe remote model failed: {error}\n"));
        }
        if !answer.citations.is_empty() {
            out.push_str("\n**Sources**\n\n");
            for (n, citation) in answer.citations.iter().enumerate() {
                let location = &citation.location;
                let mut line = format!("{}. {}", n + 1, location.title);
                if let Some(pages) = location.pages() {
                    line.push_str(&format!(", {pages}"));
                }
                if let Some(section) = &location.section {
                    line.push_str(&format!(", § {section}"));
                }
                line.push_str(&format!(" — `{}`", location.path));
                out.push_str(&line);
                out.push('\n');
            }
        }
    }
    out
}

/// A block quote of `text`, one `>` per line.
fn quote(text: &str) -> String {
    text.trim().lines().map(|line| if line.trim().is_empty() { ">\n".to_string() } else { format!("> {line}\n") }).collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
