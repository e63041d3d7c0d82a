//! The user's remote-model account: API key, budget, history and feedback.

use std::io::BufRead;

use anyhow::{bail, Result};
use automix::assistant::{ExportFormat, ExportSelection};
use automix::budget::{CapChange, Ledger};
use automix::history::{Feedback, History};
use automix::remote::{ApiKey, KeyLocation};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Store the remote API key (read from standard input) in the OS keychain.
    Set,
    /// Remove the stored key.
    Clear,
}

#[derive(Subcommand)]
pub enum BudgetCommand {
    /// This month's limit, spending and what is left.
    Show,
    /// Change the monthly limit, currency or per-answer cap.
    Set {
        #[arg(long)]
        monthly: Option<f64>,
        #[arg(long)]
        currency: Option<String>,
        /// Largest worst-case cost one answer may reserve; 0 allows nothing (as a monthly 0 does).
        #[arg(long, conflicts_with = "no_cap")]
        cap: Option<f64>,
        /// Remove the per-answer cap.
        #[arg(long)]
        no_cap: bool,
    },
}

#[derive(Subcommand)]
pub enum HistoryCommand {
    /// The questions of one conversation.
    Conversation { id: i64 },
    /// Every escalated answer, with what was sent and what it cost.
    Escalated,
    /// Remote spending per day or month.
    Spend {
        #[arg(long, default_value = "month")]
        per: String,
    },
    /// Export a conversation, or the history (optionally filtered), to Markdown or JSON: answers,
    /// citations with pages, badges with reasons, confidence and costs.
    Export {
        /// One conversation; without it, the history.
        #[arg(long)]
        conversation: Option<i64>,
        /// Only escalated answers (history only).
        #[arg(long, conflicts_with = "conversation")]
        escalated: bool,
        /// Only answers whose question or answer contains this text (history only).
        #[arg(long, default_value = "", conflicts_with = "conversation")]
        search: String,
        #[arg(long, value_enum, default_value = "markdown")]
        format: ExportFormatArg,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Every outbound request the app made: time, host, purpose, bytes sent and received, cost.
    Network {
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ExportFormatArg {
    Markdown,
    Json,
}

fn history_path() -> std::path::PathBuf {
    automix::models::automix_home().join("history.sqlite")
}

pub fn key(command: KeyCommand) -> Result<()> {
    let store = automix::assistant::AssistantPaths::from_home(&automix::models::automix_home()).key_store();
    match command {
        KeyCommand::Set => {
            eprintln!("paste the API key and press Enter:");
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            if line.trim().is_empty() {
                bail!("no key given; nothing stored");
            }
            match store.save(&ApiKey::new(line))? {
                KeyLocation::Keychain => println!("key stored in the OS keychain"),
                KeyLocation::File { path, warning } => println!("key stored in {} (readable only by you)\nwarning: {warning}", path.display()),
            }
        }
        KeyCommand::Clear => {
            store.delete()?;
            println!("key removed");
        }
    }
    Ok(())
}

pub fn budget(command: BudgetCommand) -> Result<()> {
    let ledger = Ledger::open(&history_path())?;
    if let BudgetCommand::Set { monthly, currency, cap, no_cap } = command {
        let cap = match (cap, no_cap) {
            (Some(cap), _) => CapChange::Set(cap),
            (None, true) => CapChange::Remove,
            (None, false) => CapChange::Keep,
        };
        ledger.set_settings(&ledger.settings()?.changed(monthly, currency.as_deref(), cap)?)?;
    }
    let status = ledger.month_status()?;
    let settings = ledger.settings()?;
    println!("{} budget: {} {}", status.month, status.limit, status.currency);
    println!("  spent {}, reserved {}, left {}", status.settled, status.reserved, status.remaining);
    println!("  month elapsed {:.0}%", status.elapsed_fraction * 100.0);
    if let Some(cap) = settings.per_answer_cap {
        println!("  per-answer cap {cap}");
    }
    Ok(())
}

pub fn history(command: HistoryCommand) -> Result<()> {
    let history = History::open(&history_path())?;
    match command {
        HistoryCommand::Conversation { id } => print_questions(&history.conversation(id)?),
        HistoryCommand::Escalated => print_questions(&history.escalated()?),
        HistoryCommand::Spend { per } => {
            let rows = match per.as_str() {
                "day" => history.spend_per_day()?,
                "month" => history.spend_per_month()?,
                other => bail!("--per must be day or month, not {other}"),
            };
            for row in rows {
                println!("{}  {} {}  ({} escalations)", row.period, row.cost, row.currency, row.escalations);
            }
        }
        HistoryCommand::Export { conversation, escalated, search, format, out } => export(conversation, escalated, search, format, out)?,
        HistoryCommand::Network { json } => {
            let requests = history.network_log(usize::MAX)?;
            if json {
                for request in &requests {
                    println!("{}", serde_json::to_string(request)?);
                }
                return Ok(());
            }
            if requests.is_empty() {
                println!("no network requests recorded: nothing has left this device");
            }
            for request in &requests {
                let when = automix::types::utc_timestamp(request.at_ms);
                let sent = request.bytes_sent.map(|bytes| format!("{bytes} B")).unwrap_or_else(|| "?".into());
                let outcome = match (&request.error, request.status) {
                    (Some(error), _) => format!("failed: {error}"),
                    (None, Some(status)) => format!("HTTP {status}"),
                    (None, None) => "done".into(),
                };
                let cost = match &request.currency {
                    Some(currency) if request.cost > 0.0 => format!("  {:.6} {currency}", request.cost),
                    _ => String::new(),
                };
                println!(
                    "{when}  {:<14} {}  {}  sent {sent}, received {} B, {} ms, {outcome}{cost}",
                    request.purpose.as_str(),
                    request.host,
                    request.what,
                    request.bytes_received,
                    request.duration_ms
                );
            }
        }
    }
    Ok(())
}

/// `automix history export`: the selected answers as Markdown or JSON, to a file or standard output.
fn export(conversation: Option<i64>, escalated: bool, search: String, format: ExportFormatArg, out: Option<std::path::PathBuf>) -> Result<()> {
    let selection = match conversation {
        Some(id) => ExportSelection::Conversation { id },
        None => ExportSelection::History { escalated_only: escalated, search },
    };
    let format = match format {
        ExportFormatArg::Markdown => ExportFormat::Markdown,
        ExportFormatArg::Json => ExportFormat::Json,
    };
    let text = super::assistant_without_models()?.export(&selection, format)?;
    match out {
        Some(path) => {
            std::fs::write(&path, text).map_err(|error| anyhow::anyhow!("cannot write {}: {error}", path.display()))?;
            eprintln!("exported to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn print_questions(questions: &[automix::history::StoredQuestion]) {
    for q in questions {
        let r = &q.record;
        match &q.api_client {
            Some(client) => println!("#{} {}  [API · {client}]", q.id, r.question),
            None => println!("#{} {}", q.id, r.question),
        }
        println!("  local ({}): {}", r.local.model, r.local.text.trim());
        println!("  routing: {:?} — {}", r.routing.decision, r.routing.reason);
        if let Some(e) = &r.escalation {
            match (&e.answer, &e.error) {
                (Some(answer), _) => println!("  {} answered: {}", e.model, answer.trim()),
                (None, Some(error)) => println!("  {} failed: {error}", e.model),
                _ => {}
            }
            println!("  cost {} {}; sent {} chunks", e.cost, e.currency, e.payload.chunks.len());
            if let Some(usage) = e.usage {
                let source = if e.usage_estimated { "estimated: the server reported none" } else { "as the server reported" };
                println!("  usage {} prompt + {} completion tokens ({source}); {} ms", usage.prompt_tokens, usage.completion_tokens, e.latency_ms);
            }
        }
        if let Some(feedback) = q.feedback {
            println!("  feedback: {feedback:?}");
        }
    }
}

pub fn feedback(id: i64, verdict: &str) -> Result<()> {
    let feedback = match verdict {
        "up" => Some(Feedback::Up),
        "down" => Some(Feedback::Down),
        "none" => None,
        other => bail!("feedback must be up, down or none, not {other}"),
    };
    super::assistant_without_models()?.feedback(id, feedback)?;
    println!("feedback on #{id} recorded");
    Ok(())
}

pub fn router_forget() -> Result<()> {
    super::assistant_without_models()?.forget_learning()?;
    println!("the router now ignores answers before this moment; it starts again from the bundled calibration");
    Ok(())
}
