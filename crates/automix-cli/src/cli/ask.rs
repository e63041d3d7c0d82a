use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use automix::assistant::{AnswerSource, AskEvent, Assistant, AssistantPaths, RouteDecision, Scope};
use automix::settings::Settings;
use clap::Args;

#[derive(Args)]
pub struct AskArgs {
    /// The question.
    question: String,
    /// Answer from this text file instead of the document library.
    #[arg(long)]
    context: Option<PathBuf>,
    /// OpenAI-compatible endpoint of the remote model, up to /v1 (HTTPS unless on this machine);
    /// overrides the settings file, as do the flags below.
    #[arg(long, requires = "remote_model")]
    remote_endpoint: Option<String>,
    /// Remote model id, e.g. gpt-4o-mini.
    #[arg(long)]
    remote_model: Option<String>,
    /// Your estimate of how often the remote model answers right (0..1).
    #[arg(long)]
    remote_accuracy: Option<f64>,
    #[arg(long)]
    max_remote_tokens: Option<u32>,
    /// Tokens of document text the local model reads.
    #[arg(long)]
    context_tokens: Option<usize>,
    /// Conversation to add the question to (default: a new one).
    #[arg(long)]
    conversation: Option<i64>,
    /// Print events as JSON lines instead of text.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    device: super::DeviceArg,
}

pub fn run(args: AskArgs) -> Result<()> {
    let home = automix::models::automix_home();
    let mut settings = Settings::load(&home)?;
    if let (Some(endpoint), Some(model)) = (&args.remote_endpoint, &args.remote_model) {
        settings.remote.endpoint = endpoint.clone();
        settings.remote.model = model.clone();
    }
    settings.remote.accuracy = args.remote_accuracy.unwrap_or(settings.remote.accuracy);
    settings.remote.max_tokens = args.max_remote_tokens.unwrap_or(settings.remote.max_tokens);
    settings.context_tokens = args.context_tokens.unwrap_or(settings.context_tokens);
    settings.device = args.device.or_settings(&settings);
    settings.validate()?;
    let assistant = Assistant::open_from_settings(&AssistantPaths::from_home(&home), &settings)?;
    // On stderr, so `--json` output stays one event per line.
    eprintln!("(local model on {})", automix::llm::device::label(assistant.model()?.device()));
    let scope = match &args.context {
        Some(path) => Scope::Text {
            source: path.display().to_string(),
            text: std::fs::read_to_string(path).with_context(|| format!("cannot read the context file {} as UTF-8 text", path.display()))?,
        },
        None => Scope::Library,
    };
    let conversation = match args.conversation {
        Some(id) => id,
        None => assistant.new_conversation(&args.question)?,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut out = std::io::stdout();
    let mut awaiting = false;
    assistant.ask(
        &args.question,
        &scope,
        conversation,
        &mut |event| {
            if args.json {
                let _ = writeln!(out, "{}", serde_json::to_string(&event).unwrap_or_default());
                return;
            }
            match event {
                AskEvent::Retrieved { citations, .. } => {
                    for (i, c) in citations.iter().enumerate() {
                        eprintln!("[{}] {c}", i + 1);
                    }
                }
                AskEvent::LocalToken { text } => {
                    let _ = write!(out, "{text}");
                    let _ = out.flush();
                }
                AskEvent::Verified { v, grounded } => {
                    eprintln!("\n(self-check: {:.0}% correct, answer {} the sources)", v * 100.0, if grounded { "found in" } else { "not found in" })
                }
                AskEvent::Routed { decision, reason, .. } => {
                    let label = match decision {
                        RouteDecision::Local => "kept local",
                        RouteDecision::Escalate => "escalating",
                        RouteDecision::StayLocalBudget => "staying local (budget)",
                        RouteDecision::StayLocal => "staying local",
                        RouteDecision::AwaitingApproval => "waiting for your approval",
                    };
                    awaiting = decision == RouteDecision::AwaitingApproval;
                    eprintln!("({label}: {reason})");
                }
                AskEvent::RemoteToken { text } => {
                    let _ = write!(out, "{text}");
                    let _ = out.flush();
                }
                AskEvent::RemoteFailed { message } => eprintln!("\n(remote model failed: {message}; the local answer stands)"),
                AskEvent::Done { source, cost, currency, question_id, .. } => {
                    let source = match source {
                        AnswerSource::Local => "local model",
                        AnswerSource::Remote => "remote model",
                    };
                    eprintln!("\n(answer #{question_id} from the {source}; cost {cost:.6} {currency})");
                    if awaiting {
                        eprintln!(
                            "(nothing was sent: `automix pending {question_id}` shows what would be, `automix send {question_id}` sends it, `automix keep-local {question_id}` keeps this answer)"
                        );
                    }
                }
            }
        },
        &cancel,
    )?;
    println!();
    Ok(())
}

/// `automix pending ID`: exactly what `automix send ID` would send, without sending it.
pub fn pending(id: i64, without: &[usize]) -> Result<()> {
    let assistant = assistant_with_remote()?;
    let pending = assistant.pending_approval(id, &zero_based(without)?)?;
    println!("to {} at {} · about {} tokens · at most {:.6} {}", pending.model, pending.host, pending.tokens, pending.worst_case_cost, pending.currency);
    for passage in &pending.passages {
        let state = if passage.private {
            "private, never sent"
        } else if passage.left_out {
            "left out"
        } else {
            "sent"
        };
        println!("  passage {}: {} ({state})", passage.index + 1, passage.source);
    }
    if let Some(withheld) = &pending.withheld {
        println!("kept on this device: {withheld}");
    }
    for message in &pending.messages {
        println!("\n--- {} ---\n{}", message.role, message.content);
    }
    Ok(())
}

/// `automix send ID [--without N...]`: sends an answered question to the remote model.
pub fn send(id: i64, without: &[usize]) -> Result<()> {
    let assistant = assistant_with_remote()?;
    let mut out = std::io::stdout();
    let view = assistant.send_approved(
        id,
        &zero_based(without)?,
        &mut |event| {
            if let AskEvent::RemoteToken { text } = event {
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
        },
        &crate::cli::cancel_on_ctrl_c(),
    )?;
    println!();
    match (&view.remote_answer, &view.remote_error) {
        (Some(_), _) => {
            eprintln!("(answer #{id} from {}; cost {:.6} {})", view.remote_model.as_deref().unwrap_or("the remote model"), view.cost, view.currency)
        }
        (None, Some(error)) => eprintln!("(the remote model failed: {error}; the local answer stands)"),
        _ => {}
    }
    Ok(())
}

/// `automix keep-local ID`: a pending escalation keeps its local answer; nothing is sent.
pub fn keep_local(id: i64) -> Result<()> {
    let view = assistant_with_remote()?.keep_local(id)?;
    println!("#{id}: {}", view.reason);
    Ok(())
}

/// The engine with the remote model of the settings and no local model loaded.
fn assistant_with_remote() -> Result<Assistant> {
    let home = automix::models::automix_home();
    let settings = automix::settings::Settings::load(&home)?;
    Ok(Assistant::open_from_settings(&AssistantPaths::from_home(&home), &settings)?)
}

/// Passage numbers as printed (1-based) to positions.
fn zero_based(numbers: &[usize]) -> Result<Vec<usize>> {
    numbers.iter().map(|&n| n.checked_sub(1).ok_or_else(|| anyhow::anyhow!("passages are numbered from 1"))).collect()
}
