//! One question's journey: retrieve → answer locally → self-verify → route → (escalate) → record.

mod events;
mod routing;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Instant;

use automix_eval::metrics::token_f1;
use automix_eval::table::CORRECT_THRESHOLD;
use automix_budget::{advise, worst_case_cost, BudgetAdvice, CostPreference, Ledger};
use automix_docs::{Citation, Embedder, Library, SearchHit};
use automix_llm::{KvCache, LocalModel, SamplingParams};
use automix_remote::{BlockingRemoteClient, CancelFlag, Cost, EscalationPayload, ModelPrice, PayloadChunk};
use automix_router::SignalValues;
use automix_store::{Escalation, History, LocalAnswer, QuestionRecord, RouteDecision, Routing};

pub use events::{AnswerSource, AskError, AskEvent, Decision};
pub use routing::{RoutePlan, Router};

use crate::prompts::{answer_messages, AnswerStyle};
use crate::verify::{answer_is_grounded, verify, VerifyMode};

/// What a question may be answered from.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The whole document library.
    Library,
    /// One given text (e.g. `automix ask --context FILE`).
    Text { source: String, text: String },
}

/// The remote model the user configured.
pub struct RemoteModel {
    pub client: BlockingRemoteClient,
    pub model: String,
    pub price: ModelPrice,
    /// Prior probability that its answers are right (refined by use later).
    pub accuracy: f64,
    pub max_tokens: u32,
}

pub struct AssistantConfig {
    /// Tokens of retrieved text given to the local model.
    pub context_budget_tokens: usize,
    pub max_answer_tokens: usize,
    pub verify_mode: VerifyMode,
    pub cost_preference: CostPreference,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        Self {
            context_budget_tokens: 1024,
            max_answer_tokens: 96,
            verify_mode: VerifyMode::Logit,
            // λ is in expected-correctness per currency unit: at the neutral λ an escalation is worth
            // it when it is expected to fix one answer in ten for a cent or less.
            cost_preference: CostPreference { neutral_lambda: 10.0, min_lambda: 1.0, max_lambda: 1000.0 },
        }
    }
}

/// File under `$AUTOMIX_HOME` holding the time (ms) before which answers do not teach the router.
pub const LEARNING_SINCE_FILE: &str = "router-learning-since";

/// Where the assistant keeps its files.
pub struct AssistantPaths {
    pub chat_model: PathBuf,
    pub embedder_dir: PathBuf,
    pub library: PathBuf,
    /// History and budget ledger share one SQLite file.
    pub history: PathBuf,
    /// Answers asked before the time (ms) in this file do not teach the router (`automix router forget`).
    pub learning_since: PathBuf,
}

impl AssistantPaths {
    /// The standard layout under `$AUTOMIX_HOME`, with the catalog's default models.
    pub fn from_home(home: &Path) -> Result<Self, AskError> {
        let catalog = automix_models::Catalog::bundled();
        let store = automix_models::ModelStore::new(home.join("models"));
        let chat_model = store.locate(catalog.default_for(automix_models::ModelKind::Chat))?;
        let embedder = catalog.default_for(automix_models::ModelKind::Embedding);
        store.locate(embedder)?;
        Ok(Self {
            chat_model,
            embedder_dir: store.model_dir(embedder),
            library: home.join(automix_docs::LIBRARY_FILE_NAME),
            history: home.join("history.sqlite"),
            learning_since: home.join(LEARNING_SINCE_FILE),
        })
    }
}

pub struct Assistant {
    model: LocalModel,
    embedder: Embedder,
    library: Mutex<Library>,
    history: History,
    ledger: Ledger,
    router: Router,
    remote: Option<RemoteModel>,
    config: AssistantConfig,
    /// Kept between questions so the shared prompt prefix (instructions, demonstrations) is computed once.
    cache: Mutex<KvCache>,
}

impl Assistant {
    pub fn open(paths: &AssistantPaths, remote: Option<RemoteModel>, config: AssistantConfig) -> Result<Self, AskError> {
        let device = automix_llm::default_device();
        let history = History::open(&paths.history)?;
        let mut router = Router::bundled()?;
        let since = std::fs::read_to_string(&paths.learning_since).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(i64::MIN);
        router.learn(&judged_local_answers(&history, since)?);
        Ok(Self {
            model: LocalModel::load(&paths.chat_model, &device)?,
            embedder: Embedder::load(&paths.embedder_dir, &device)?,
            library: Mutex::new(Library::open(&paths.library)?),
            history,
            ledger: Ledger::open(&paths.history)?,
            router,
            remote,
            config,
            cache: Mutex::new(KvCache::new()),
        })
    }

    pub fn model(&self) -> &LocalModel {
        &self.model
    }

    pub fn router(&self) -> &Router {
        &self.router
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    pub fn library(&self) -> std::sync::MutexGuard<'_, Library> {
        self.library.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers `question`, reporting each stage through `on_event`. Checks `cancel` between stages
    /// and while generating; a cancelled question records nothing and charges nothing.
    pub fn ask(&self, question: &str, scope: &Scope, conversation_id: i64, on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<i64, AskError> {
        let started = Instant::now();
        let check = || if cancel.load(Ordering::Relaxed) { Err(AskError::Cancelled) } else { Ok(()) };
        let hits = self.retrieve(question, scope)?;
        on_event(AskEvent::Retrieved { citations: hits.iter().map(|h| h.citation.clone()).collect() });
        let context = hits.iter().map(|h| h.text.as_str()).collect::<Vec<_>>().join("\n\n");
        check()?;

        let mut cache = self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let prompt = self.model.chat_prompt(&answer_messages(&context, question, AnswerStyle::Sentence), true)?;
        let params = SamplingParams { max_tokens: self.config.max_answer_tokens, ..Default::default() };
        let local_started = Instant::now();
        let local = self.model.generate(&prompt, &mut cache, &params, cancel, &mut |text| on_event(AskEvent::LocalToken { text: text.to_string() }))?;
        let local_ms = local_started.elapsed().as_millis() as u64;
        let verification = verify(&self.model, &context, question, &local.text, AnswerStyle::Sentence, self.config.verify_mode, &mut cache, cancel)?;
        drop(cache);
        let grounded = answer_is_grounded(&local.text, &context);
        on_event(AskEvent::Verified { v: verification.v, grounded });
        check()?;

        let signals = SignalValues {
            v_logit: matches!(self.config.verify_mode, VerifyMode::Logit).then_some(verification.v),
            v_sample: matches!(self.config.verify_mode, VerifyMode::Sample { .. }).then_some(verification.v),
            answer_logprob: Some(local.mean_logprob()).filter(|l| l.is_finite()),
            answer_tokens: Some(local.tokens.len() as f64),
            grounded: Some(grounded),
            // The context's best match; hits are in document order here, not by rank.
            retrieval_score: hits.iter().filter_map(|hit| hit.similarity).reduce(f64::max),
        };
        let payload = EscalationPayload {
            system_prompt: "Answer the question using only the provided context. Be concise.".into(),
            question: question.to_string(),
            chunks: hits.iter().map(|h| PayloadChunk { source: h.citation.to_string(), text: h.text.clone() }).collect(),
        };
        let routing = self.route(&signals, &payload)?;
        let currency = self.ledger.settings()?.currency;
        on_event(AskEvent::Routed {
            decision: routing.1,
            reason: routing.0.reason.clone(),
            local_confidence: routing.2,
            estimated_cost: routing.0.estimated_cost.map(|c| c.as_units()),
            currency: currency.clone(),
        });
        check()?;

        let mut answer = (local.text.clone(), AnswerSource::Local);
        let escalation = match (routing.1, &self.remote, routing.0.estimated_cost) {
            (Decision::Escalate, Some(remote), Some(worst_case)) => {
                let escalation = self.escalate(remote, &payload, worst_case, &currency, on_event, cancel)?;
                if let Some(text) = &escalation.answer {
                    answer = (text.clone(), AnswerSource::Remote);
                }
                Some(escalation)
            }
            _ => None,
        };
        let cost = escalation.as_ref().map(|e| e.cost.as_units()).unwrap_or(0.0);
        let record = QuestionRecord {
            conversation_id,
            asked_at_ms: automix_budget::now_ms(),
            question: question.to_string(),
            citations: hits.iter().map(to_stored_citation).collect(),
            local: LocalAnswer {
                model: self.model.path().file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                text: local.text.clone(),
                verifier_value: Some(verification.v),
                latency_ms: local_ms,
                verify_latency_ms: (verification.secs * 1000.0) as u64,
            },
            routing: routing.0,
            escalation,
            total_latency_ms: started.elapsed().as_millis() as u64,
        };
        let question_id = self.history.record(&record)?;
        on_event(AskEvent::Done { answer: answer.0, source: answer.1, cost, currency, question_id });
        Ok(question_id)
    }

    fn retrieve(&self, question: &str, scope: &Scope) -> Result<Vec<SearchHit>, AskError> {
        match scope {
            Scope::Library => {
                let mut library = self.library();
                if library.chunk_count()? == 0 {
                    return Err(AskError::EmptyLibrary);
                }
                Ok(library.retrieve(&self.embedder, question, self.config.context_budget_tokens, &self.model)?)
            }
            Scope::Text { source, text } => {
                let tokens = self.model.tokenizer().encode(text)?;
                let kept = tokens.len().min(self.config.context_budget_tokens);
                let text = if kept < tokens.len() { self.model.tokenizer().decode(&tokens[..kept])? } else { text.clone() };
                let char_end = text.chars().count();
                Ok(vec![SearchHit {
                    chunk_id: 0,
                    ordinal: 0,
                    score: 1.0,
                    similarity: None,
                    token_count: kept,
                    citation: Citation {
                        document_id: 0,
                        path: source.clone(),
                        title: source.clone(),
                        page_start: None,
                        page_end: None,
                        section: None,
                        char_start: 0,
                        char_end,
                        snippet: text.chars().take(160).collect(),
                    },
                    text,
                }])
            }
        }
    }

    /// The routing record and decision, and the router's confidence in the local answer.
    fn route(&self, signals: &SignalValues, payload: &EscalationPayload) -> Result<(Routing, Decision, f64), AskError> {
        let local_confidence = self.router.local_confidence(signals);
        let Some(remote) = &self.remote else {
            let reason = format!("no remote model is configured; the local answer is kept (estimated {:.0}% likely right)", local_confidence * 100.0);
            return Ok((Routing { decision: RouteDecision::Local, reason, expected_utilities: Default::default(), lambda: None, estimated_cost: None }, Decision::Keep, local_confidence));
        };
        let worst_case = worst_case_cost(payload, remote.max_tokens, &remote.price);
        let status = self.ledger.month_status()?;
        let (lambda, budget_note) = match advise(&status, &self.config.cost_preference, worst_case) {
            BudgetAdvice::Route { lambda, .. } => (lambda, None),
            BudgetAdvice::StayLocal { reason } => (self.config.cost_preference.neutral_lambda, Some(reason)),
        };
        let plan = self.router.plan(signals, worst_case.as_units(), remote.accuracy, lambda)?;
        let (decision, stored, reason) = match (plan.escalate, budget_note) {
            (false, _) => (
                Decision::Keep,
                RouteDecision::Local,
                format!("the local answer is estimated {:.0}% likely right; escalating would not pay off at up to {} {}", local_confidence * 100.0, worst_case, status.currency),
            ),
            (true, Some(note)) => (Decision::StayLocal, RouteDecision::StayLocalBudget, note),
            (true, None) => (
                Decision::Escalate,
                RouteDecision::Escalate,
                format!("the local answer is estimated only {:.0}% likely right; {} is expected to do better for at most {} {}", local_confidence * 100.0, remote.model, worst_case, status.currency),
            ),
        };
        let routing = Routing { decision: stored, reason, expected_utilities: plan.expected_utilities, lambda: Some(lambda), estimated_cost: Some(worst_case) };
        Ok((routing, decision, local_confidence))
    }

    /// Reserves the worst case the router priced, calls the remote model, settles what it used.
    fn escalate(&self, remote: &RemoteModel, payload: &EscalationPayload, worst_case: Cost, currency: &str, on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<Escalation, AskError> {
        let started = Instant::now();
        let reservation = self.ledger.reserve(worst_case, &payload.question)?;
        let outcome = remote.client.chat_stream(payload, remote.max_tokens, |text| on_event(AskEvent::RemoteToken { text: text.to_string() }), cancel);
        let cost = reservation.settle_outcome(&outcome, &remote.price)?;
        if cancel.load(Ordering::Relaxed) {
            return Err(AskError::Cancelled);
        }
        let (answer, usage, usage_estimated, error) = match outcome {
            Ok(answer) => (Some(answer.text), Some(answer.usage), answer.usage_estimated, None),
            Err(error) => {
                on_event(AskEvent::RemoteFailed { message: format!("{error}; the local answer stands") });
                (None, None, false, Some(error.to_string()))
            }
        };
        Ok(Escalation {
            model: remote.model.clone(),
            payload: payload.clone(),
            answer,
            usage,
            usage_estimated,
            cost,
            currency: currency.to_string(),
            latency_ms: started.elapsed().as_millis() as u64,
            error,
        })
    }
}

/// Whether each past local answer was right, oldest first, as far as use has shown: the user's 👍/👎
/// on a local answer, else agreement (token F1 ≥ 0.5) with the remote answer it was escalated to.
fn judged_local_answers(history: &History, since_ms: i64) -> Result<Vec<bool>, AskError> {
    let mut judged = Vec::new();
    for conversation in history.conversations()? {
        for question in history.conversation(conversation.id)? {
            let record = &question.record;
            if record.asked_at_ms <= since_ms {
                continue;
            }
            let remote_answer = record.escalation.as_ref().and_then(|e| e.answer.as_ref());
            let verdict = match (remote_answer, question.feedback) {
                (None, Some(feedback)) => Some(feedback == automix_store::Feedback::Up),
                (Some(remote), _) => Some(token_f1(&record.local.text, std::slice::from_ref(remote)) >= CORRECT_THRESHOLD),
                (None, None) => None,
            };
            judged.extend(verdict.map(|v| (record.asked_at_ms, v)));
        }
    }
    judged.sort_by_key(|(at, _)| *at);
    Ok(judged.into_iter().map(|(_, v)| v).collect())
}

fn to_stored_citation(hit: &SearchHit) -> automix_store::Citation {
    automix_store::Citation {
        source: hit.citation.to_string(),
        chunk_id: Some(hit.chunk_id.to_string()),
        text: hit.text.clone(),
        score: hit.score as f32,
    }
}
