use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{Context, Result};
use automix::assistant::{AnswerSource, AskEvent, Assistant, AssistantConfig, AssistantPaths, Decision, RemoteModel, Scope};
use automix::remote::{BlockingRemoteClient, PriceTable, RemoteClient, RemoteSettings};
use clap::Args;

#[derive(Args)]
pub struct AskArgs {
    /// The question.
    question: String,
    /// Answer from this text file instead of the document library.
    #[arg(long)]
    context: Option<PathBuf>,
    /// OpenAI-compatible endpoint of the remote model, up to /v1 (HTTPS unless on this machine).
    #[arg(long, requires = "remote_model")]
    remote_endpoint: Option<String>,
    /// Remote model id, e.g. gpt-4o-mini.
    #[arg(long)]
    remote_model: Option<String>,
    /// Your estimate of how often the remote model answers right (0..1).
    #[arg(long, default_value_t = 0.8)]
    remote_accuracy: f64,
    #[arg(long, default_value_t = 512)]
    max_remote_tokens: u32,
    /// Tokens of document text the local model reads.
    #[arg(long, default_value_t = 1024)]
    context_tokens: usize,
    /// Conversation to add the question to (default: a new one).
    #[arg(long)]
    conversation: Option<i64>,
    /// Print events as JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: AskArgs) -> Result<()> {
    let home = automix::models::automix_home();
    let remote = match (&args.remote_endpoint, &args.remote_model) {
        (Some(endpoint), Some(model)) => Some(remote_model(&home, endpoint, model, args.remote_accuracy, args.max_remote_tokens)?),
        _ => None,
    };
    let config = AssistantConfig { context_budget_tokens: args.context_tokens, ..Default::default() };
    let assistant = Assistant::open(&AssistantPaths::from_home(&home)?, remote, config)?;
    let scope = match &args.context {
        Some(path) => Scope::Text {
            source: path.display().to_string(),
            text: std::fs::read_to_string(path).with_context(|| format!("cannot read the context file {} as UTF-8 text", path.display()))?,
        },
        None => Scope::Library,
    };
    let conversation = match args.conversation {
        Some(id) => id,
        None => assistant.history().new_conversation(&args.question, automix::budget::now_ms())?,
    };
    let cancel = Arc::new(AtomicBool::new(false));
    let mut out = std::io::stdout();
    assistant.ask(&args.question, &scope, conversation, &mut |event| {
        if args.json {
            let _ = writeln!(out, "{}", serde_json::to_string(&event).unwrap_or_default());
            return;
        }
        match event {
            AskEvent::Retrieved { citations } => {
                for (i, c) in citations.iter().enumerate() {
                    eprintln!("[{}] {c}", i + 1);
                }
            }
            AskEvent::LocalToken { text } => {
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
            AskEvent::Verified { v, grounded } => eprintln!("\n(self-check: {:.0}% correct, answer {} the sources)", v * 100.0, if grounded { "found in" } else { "not found in" }),
            AskEvent::Routed { decision, reason, .. } => {
                let label = match decision { Decision::Keep => "kept local", Decision::Escalate => "escalating", Decision::StayLocal => "staying local" };
                eprintln!("({label}: {reason})");
            }
            AskEvent::RemoteToken { text } => {
                let _ = write!(out, "{text}");
                let _ = out.flush();
            }
            AskEvent::RemoteFailed { message } => eprintln!("\n(remote model failed: {message})"),
            AskEvent::Done { source, cost, currency, question_id, .. } => {
                let source = match source { AnswerSource::Local => "local model", AnswerSource::Remote => "remote model" };
                eprintln!("\n(answer #{question_id} from the {source}; cost {cost:.6} {currency})");
            }
        }
    }, &cancel)?;
    println!();
    Ok(())
}

fn remote_model(home: &std::path::Path, endpoint: &str, model: &str, accuracy: f64, max_tokens: u32) -> Result<RemoteModel> {
    let settings = RemoteSettings::new(endpoint, model);
    let price = settings.resolve_price(&PriceTable::bundled())?;
    let key = super::key_store(home).load()?.map(|(key, _)| key);
    let client = BlockingRemoteClient::new(RemoteClient::new(settings, key)?)?;
    Ok(RemoteModel { client, model: model.to_string(), price, accuracy, max_tokens })
}
