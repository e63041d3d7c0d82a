//! `automix bench --pipeline`: the whole `automix ask` pipeline on a one-page document, in a
//! scratch library and history so the user's own are never touched. Times each question from the
//! moment the engine gets it to its first streamed token (retrieval, prompt, prefill), and the
//! checks after the answer (self-verification and the router's other signals) against the answer.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use automix::assistant::{AskEvent, Assistant, AssistantConfig, Scope};
use automix::collect::scratch_assistant;
use automix::settings::Settings;
use automix_docs::IndexOptions;
use serde::Serialize;

/// The document asked about: one page of invented facts, so that the answers have to come from
/// the page rather than from what the model remembers, as with a user's own documents.
const PAGE: &str = include_str!("page.md");

/// Asked first and not timed: the first question pays for one-off work (the embedder's and the
/// kernels' first calls, the library's first read) that a user pays once per session.
const WARM_UP: &str = "When is the library open on Saturdays?";

/// The timed questions, each answered somewhere on the page; an odd number, so the median is one of them.
pub(super) const QUESTIONS: &[&str] = &[
    "How much does membership cost for adults?",
    "How long can books be borrowed?",
    "When does story time take place?",
    "Who is the head librarian?",
    "How long is a reserved item kept on the reservation shelf?",
];

/// Medians over the timed questions.
#[derive(Serialize, Debug)]
pub struct PipelineFigures {
    pub questions: usize,
    /// The document's length in the chat model's tokens.
    pub document_tokens: usize,
    /// From handing the question to the engine to the retrieved passages (embedding the
    /// question, searching the library, packing the context).
    pub retrieval_secs: f64,
    /// From handing the question to the engine to its first streamed answer token: retrieval,
    /// building the prompt and prefilling it. Each question is about the document of the one
    /// before, as when a user asks several things of one document: the prompt continues from the
    /// instructions and passages the engine kept.
    pub question_to_first_token_secs: f64,
    /// The same for a question whose passages are not those of the question before (the first
    /// question about a document): only the instructions are kept, the page is read again. Median
    /// over the same questions, asked of the page alternately as a given text (`automix ask
    /// --context`) and as the library's document.
    pub new_document_question_to_first_token_secs: f64,
    /// The same new-document questions when the engine has read the page ahead
    /// (`Assistant::read_ahead`, untimed) before each: what the app does after a document is added,
    /// while the user types the question.
    pub new_document_read_ahead_question_to_first_token_secs: f64,
    /// The answer as the engine records it: prefill and decoding.
    pub answer_secs: f64,
    /// Everything the engine does after the answer before routing: self-verification, context
    /// lift, key-word log-probability, answer–context similarity.
    pub checks_secs: f64,
    /// checks ÷ answer, per question.
    pub checks_to_answer_ratio: f64,
}

/// A folder under the system's temporary directory, removed with everything in it on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<Self> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        let path = std::env::temp_dir().join(format!("automix-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).with_context(|| format!("cannot create the scratch folder {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asks [`WARM_UP`] and then `questions` about the page, with the models of `home` and the
/// configuration of `settings`, and no remote model (so nothing leaves the machine).
pub fn measure(home: &Path, settings: &Settings, questions: &[&str]) -> Result<PipelineFigures> {
    if questions.is_empty() {
        bail!("the pipeline benchmark needs at least one question");
    }
    let scratch = ScratchDir::new()?;
    let assistant = scratch_assistant(home, &scratch.0, AssistantConfig::from_settings(settings), &settings.local_model)?;
    let page = scratch.0.join("harbour-lane-library.md");
    std::fs::write(&page, PAGE).with_context(|| format!("cannot write {}", page.display()))?;
    let never = AtomicBool::new(false);
    assistant.library().add_paths(&*assistant.embedder()?, std::slice::from_ref(&page), &IndexOptions::default(), &mut |_| {}, &never)?;
    // A file that fails to index is reported, not an error; questions about nothing would time nothing.
    if assistant.documents()?.is_empty() {
        bail!("the benchmark page {} could not be indexed", page.display());
    }
    let document_tokens = assistant.model()?.tokenizer().encode(PAGE)?.len();

    time_question(&assistant, WARM_UP, &Scope::Library)?;
    let same_document = questions.iter().map(|question| time_question(&assistant, question, &Scope::Library)).collect::<Result<Vec<_>>>()?;
    let as_text = Scope::Text { source: page.display().to_string(), text: PAGE.to_string() };
    let new_document = questions
        .iter()
        .enumerate()
        .map(|(i, question)| time_question(&assistant, question, if i % 2 == 0 { &as_text } else { &Scope::Library }))
        .collect::<Result<Vec<_>>>()?;
    let never = Arc::new(AtomicBool::new(false));
    let read_ahead = questions
        .iter()
        .enumerate()
        .map(|(i, question)| {
            let scope = if i % 2 == 0 { &as_text } else { &Scope::Library };
            assistant.read_ahead(scope, &never)?;
            time_question(&assistant, question, scope)
        })
        .collect::<Result<Vec<_>>>()?;
    let median_of = |timings: &[Timing], figure: fn(&Timing) -> f64| {
        let mut values: Vec<f64> = timings.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        super::percentile(&values, 0.5)
    };
    Ok(PipelineFigures {
        questions: questions.len(),
        document_tokens,
        retrieval_secs: median_of(&same_document, |t| t.retrieval_secs),
        question_to_first_token_secs: median_of(&same_document, |t| t.first_token_secs),
        new_document_question_to_first_token_secs: median_of(&new_document, |t| t.first_token_secs),
        new_document_read_ahead_question_to_first_token_secs: median_of(&read_ahead, |t| t.first_token_secs),
        answer_secs: median_of(&same_document, |t| t.answer_secs),
        checks_secs: median_of(&same_document, |t| t.checks_secs),
        checks_to_answer_ratio: median_of(&same_document, |t| t.checks_secs / t.answer_secs),
    })
}

struct Timing {
    retrieval_secs: f64,
    first_token_secs: f64,
    answer_secs: f64,
    checks_secs: f64,
}

/// One question through `Assistant::ask`, in a conversation of its own so no earlier turn lengthens
/// the prompt. The answer and checks times are the ones the engine records in its history.
fn time_question(assistant: &Assistant, question: &str, scope: &Scope) -> Result<Timing> {
    let conversation = assistant.new_conversation(question)?;
    let (mut retrieved, mut first_token) = (None, None);
    let started = Instant::now();
    let question_id = assistant.ask(
        question,
        scope,
        conversation,
        &mut |event| match event {
            AskEvent::Retrieved { .. } => retrieved = retrieved.or(Some(started.elapsed())),
            AskEvent::LocalToken { .. } => first_token = first_token.or(Some(started.elapsed())),
            _ => {}
        },
        &Arc::new(AtomicBool::new(false)),
    )?;
    let (Some(retrieved), Some(first_token)) = (retrieved, first_token) else {
        bail!("the engine answered \"{question}\" without streaming its passages and a first token");
    };
    let local = assistant.history().question(question_id)?.record.local;
    Ok(Timing {
        retrieval_secs: retrieved.as_secs_f64(),
        first_token_secs: first_token.as_secs_f64(),
        answer_secs: local.latency_ms as f64 / 1000.0,
        checks_secs: local.verify_latency_ms as f64 / 1000.0,
    })
}
