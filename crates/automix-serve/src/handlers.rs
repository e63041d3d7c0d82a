//! The routes: `GET /v1/models` and `POST /v1/chat/completions` (with and without `stream`),
//! behind the bearer token; anything else is an OpenAI-style 404.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use automix::assistant::{AnswerSource, AskEvent, AskOptions, Assistant, Scope};
use automix::remote::CancelFlag;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::mpsc;

use crate::admission::Admission;
use crate::error::ApiError;
use crate::protocol::{self, ChatRequest, OfferedModel, Outcome};
use crate::{Engine, InFlight, ServeConfig};

/// The label a request's own text is cited by.
const REQUEST_SOURCE: &str = "the request";

#[derive(Clone)]
struct Context {
    engine: Engine,
    token: Arc<String>,
    admission: Arc<Admission>,
    max_body_bytes: usize,
    in_flight: Arc<InFlight>,
    next_id: Arc<AtomicU64>,
}

pub(crate) fn router(engine: Engine, config: &ServeConfig, in_flight: Arc<InFlight>) -> Router {
    let context = Context {
        engine,
        token: Arc::new(config.token.clone()),
        admission: Admission::new(config.queue_limit),
        max_body_bytes: config.max_body_bytes,
        in_flight,
        next_id: Arc::new(AtomicU64::new(1)),
    };
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(context.clone(), authorize))
        // The handler reads the body itself, to refuse an oversized one in OpenAI's shape.
        .layer(DefaultBodyLimit::disable())
        .with_state(context)
}

/// Every route needs `Authorization: Bearer <token>`.
async fn authorize(State(context): State<Context>, request: Request, next: Next) -> Response {
    let given = request.headers().get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::trim);
    match given.and_then(|value| value.strip_prefix("Bearer ")) {
        Some(token) if same_secret(token.trim(), &context.token) => next.run(request).await,
        Some(_) => {
            ApiError::unauthorized("Incorrect API key provided; use the access token shown in AutoMix's Settings → Local API (or printed by `automix serve`)")
                .into_response()
        }
        None => {
            ApiError::unauthorized("You didn't provide an API key; send it as `Authorization: Bearer <token>` (the token is in AutoMix's Settings → Local API)")
                .into_response()
        }
    }
}

/// Compares in time independent of where the strings differ.
fn same_secret(given: &str, expected: &str) -> bool {
    given.len() == expected.len() && given.bytes().zip(expected.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

async fn not_found(request: Request) -> ApiError {
    ApiError::not_found(format!(
        "{} {} is not a route of this server; it serves GET /v1/models and POST /v1/chat/completions",
        request.method(),
        request.uri().path()
    ))
}

async fn models() -> Json<serde_json::Value> {
    Json(protocol::model_list(unix_seconds()))
}

fn unix_seconds() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}

/// Bodies read past the limit only to be discarded: a client still sending when the 413 goes
/// out would see its connection reset instead of the error.
const DRAIN_LIMIT_BYTES: usize = 64 << 20;

/// The request body, or a 413 once it passes `limit` (the rest is read and dropped, up to 64 MiB).
async fn read_body(body: Body, limit: usize) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| ApiError::invalid("invalid_body", None, format!("the request body could not be read: {error}")))?;
        let Ok(data) = frame.into_data() else { continue };
        seen += data.len();
        if seen > DRAIN_LIMIT_BYTES {
            break;
        }
        if seen <= limit {
            bytes.extend_from_slice(&data);
        }
    }
    if seen > limit {
        return Err(ApiError::too_large(limit));
    }
    Ok(bytes)
}

/// What the engine's thread tells the response.
enum Progress {
    Delta(String),
    Finished(Result<Outcome, ApiError>),
}

/// Cancels the question when the response is dropped before it finished (the client went away).
struct CancelOnDrop {
    cancel: CancelFlag,
    armed: bool,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if self.armed {
            self.cancel.store(true, Ordering::Relaxed);
        }
    }
}

async fn chat(State(context): State<Context>, headers: HeaderMap, body: Body) -> Response {
    match answer(context, headers, body).await {
        Ok(response) => response,
        Err(error) => {
            tracing::info!(code = error.code, status = error.status.as_u16(), "local API request refused");
            error.into_response()
        }
    }
}

async fn answer(context: Context, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let bytes = read_body(body, context.max_body_bytes).await?;
    let request = ChatRequest::parse(&bytes)?;
    let client = client_name(&request, &headers);
    let engine = context.engine.clone();
    let checked = request.clone();
    tokio::task::spawn_blocking(move || fits(&engine, &checked)).await.map_err(|error| internal(&error))??;

    let ticket = context.admission.enter()?;
    let permit = context.admission.model().await;
    let cancel: CancelFlag = Arc::new(AtomicBool::new(false));
    context.in_flight.add(&cancel);
    let guard = CancelOnDrop { cancel: cancel.clone(), armed: true };
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let engine = context.engine.clone();
    let admission = context.admission.clone();
    let asked = request.clone();
    tokio::task::spawn_blocking(move || {
        // Held until the engine is done, even when the client left: the model is busy till then.
        let _place = (ticket, permit);
        let started = Instant::now();
        let progress = sender.clone();
        let result = run(&engine, &asked, &client, &cancel, &mut |delta| {
            let _ = progress.send(Progress::Delta(delta));
        });
        admission.answered_in(started.elapsed().as_millis() as u64);
        let _ = sender.send(Progress::Finished(result));
    });

    let id = format!("chatcmpl-{}-{}", unix_seconds(), context.next_id.fetch_add(1, Ordering::Relaxed));
    let created = unix_seconds();
    let model = request.model.id();
    if !request.stream {
        let outcome = loop {
            match receiver.recv().await {
                Some(Progress::Delta(_)) => {}
                Some(Progress::Finished(result)) => break result?,
                None => return Err(ApiError::from_engine(&automix::assistant::AskError::Cancelled)),
            }
        };
        let mut guard = guard;
        guard.armed = false;
        let mut response = Json(protocol::completion(&id, created, model, &outcome)).into_response();
        decision_headers(response.headers_mut(), &outcome);
        return Ok(response);
    }

    // Streamed: the role first, each delta as it comes, then the finish with the decision.
    let mut pending: VecDeque<Event> = VecDeque::new();
    pending.push_back(data(&protocol::chunk(&id, created, model, json!({ "role": "assistant", "content": "" }), None)));
    let state = Stream { receiver, pending, guard, id, created, model, include_usage: request.include_usage, finished: false };
    let events = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(event) = state.pending.pop_front() {
                return Some((Ok::<Event, Infallible>(event), state));
            }
            if state.finished {
                return None;
            }
            match state.receiver.recv().await {
                Some(Progress::Delta(text)) => {
                    state.pending.push_back(data(&protocol::chunk(&state.id, state.created, state.model, json!({ "content": text }), None)))
                }
                Some(Progress::Finished(Ok(outcome))) => {
                    state.guard.armed = false;
                    let mut last = protocol::chunk(&state.id, state.created, state.model, json!({}), Some("stop"));
                    last["automix"] = outcome.extension();
                    state.pending.push_back(data(&last));
                    if state.include_usage {
                        let mut usage = protocol::chunk(&state.id, state.created, state.model, json!({}), None);
                        usage["choices"] = json!([]);
                        usage["usage"] = outcome.usage();
                        state.pending.push_back(data(&usage));
                    }
                    state.pending.push_back(Event::default().data("[DONE]"));
                    state.finished = true;
                }
                Some(Progress::Finished(Err(error))) => {
                    state.pending.push_back(data(&error.body()));
                    state.finished = true;
                }
                None => return None,
            }
        }
    });
    let mut response = Sse::new(events).into_response();
    response.headers_mut().insert(HeaderName::from_static("x-automix-model"), HeaderValue::from_static(model));
    Ok(response)
}

struct Stream {
    receiver: mpsc::UnboundedReceiver<Progress>,
    pending: VecDeque<Event>,
    guard: CancelOnDrop,
    id: String,
    created: u64,
    model: &'static str,
    include_usage: bool,
    finished: bool,
}

fn data(value: &serde_json::Value) -> Event {
    Event::default().data(value.to_string())
}

fn internal(error: &dyn std::fmt::Display) -> ApiError {
    ApiError::internal(format!("the local API's worker stopped: {error}"))
}

/// The decision, confidence and cost as headers, for clients that read headers but not bodies.
fn decision_headers(headers: &mut HeaderMap, outcome: &Outcome) {
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-automix-decision", outcome.decision.clone());
    set("x-automix-answered-by", outcome.answered_by.to_string());
    set("x-automix-local-confidence", format!("{:.3}", outcome.local_confidence));
    set("x-automix-cost", format!("{}", outcome.cost));
    set("x-automix-currency", outcome.currency.clone());
    set("x-automix-question-id", outcome.question_id.to_string());
}

/// Who asked, as History shows it: OpenAI's `user` field, else an `X-Client-Name` header, else
/// the User-Agent's product name (`curl/8.1` → `curl`, `OpenAI/Python 1.59` → `OpenAI/Python`).
fn client_name(request: &ChatRequest, headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim).filter(|value| !value.is_empty());
    let name = request.user.clone().or_else(|| header("x-client-name").map(String::from)).or_else(|| {
        header("user-agent").map(|agent| {
            let product = agent.split_whitespace().next().unwrap_or(agent);
            match product.rsplit_once('/') {
                Some((name, version)) if version.starts_with(|c: char| c.is_ascii_digit()) => name.to_string(),
                _ => product.to_string(),
            }
        })
    });
    let name: String = name.unwrap_or_else(|| "unknown client".into()).chars().filter(|c| !c.is_control()).take(60).collect();
    name
}

/// Refuses, before queueing, a request whose text is longer than the local model may read.
fn fits(assistant: &Assistant, request: &ChatRequest) -> Result<(), ApiError> {
    let model = assistant.model().map_err(|error| ApiError::from_engine(&error))?;
    let count = |text: &str| model.count_tokens(text).map_err(|error| ApiError::from_engine(&error.into()));
    let budget = assistant.config().context_budget_tokens;
    // automix-docs reads passages of the library in place of the earlier messages.
    let context = if request.model == OfferedModel::Docs { 0 } else { count(&request.context)? };
    let question = count(&request.question)?;
    if context + question > budget {
        return Err(ApiError::invalid(
            "context_length_exceeded",
            Some("messages"),
            format!(
                "This request's messages are {} tokens; the local model reads at most {budget} tokens of context (Settings → Context tokens, up to {} for this model)",
                context + question,
                model.config().context_length
            ),
        ));
    }
    Ok(())
}

/// One request through the engine: a conversation of its own (named after the client), then the
/// app's question path. `on_delta` gets the text the client streams.
///
/// `automix-local` streams the local answer as it is generated. `automix` and `automix-docs` may
/// replace the local answer with the remote one, so the local text is sent only once the router
/// kept it; a remote answer streams as it comes.
fn run(assistant: &Assistant, request: &ChatRequest, client: &str, cancel: &CancelFlag, on_delta: &mut dyn FnMut(String)) -> Result<Outcome, ApiError> {
    let engine_error = |error: automix::assistant::AskError| ApiError::from_engine(&error);
    let scope = match request.model {
        OfferedModel::Docs => Scope::Library,
        OfferedModel::Routed | OfferedModel::Local => Scope::Text { source: REQUEST_SOURCE.into(), text: request.context.clone() },
    };
    let local_only = request.model.local_only();
    let conversation = assistant.new_conversation_from(&request.question, Some(client)).map_err(engine_error)?;
    let mut outcome = Outcome { answered_by: "local", ..Outcome::default() };
    let mut passages: Vec<String> = Vec::new();
    let mut remote_streamed = false;
    let asked = assistant.ask_with(
        &request.question,
        &scope,
        conversation,
        AskOptions { local_only },
        &mut |event| match event {
            AskEvent::Retrieved { citations, passages: texts } => {
                outcome.citations = citations.iter().map(|citation| (citation.location.reference(), citation.snippet.clone())).collect();
                passages = texts;
            }
            AskEvent::LocalToken { text } if local_only => on_delta(text),
            AskEvent::LocalToken { .. } | AskEvent::Verified { .. } => {}
            AskEvent::Routed { decision, reason, local_confidence, remote_model, .. } => {
                outcome.decision = decision.as_str().to_string();
                outcome.reason = reason;
                outcome.local_confidence = local_confidence;
                outcome.remote_model = remote_model;
            }
            AskEvent::RemoteToken { text } => {
                remote_streamed = true;
                on_delta(text);
            }
            AskEvent::RemoteFailed { message } => {
                if remote_streamed {
                    on_delta(format!("\n\n[The remote model stopped mid-answer ({message}); the local answer follows.]\n\n"));
                    remote_streamed = false;
                }
            }
            AskEvent::Done { answer, source, cost, currency, question_id } => {
                let streamed = local_only || (source == AnswerSource::Remote && remote_streamed);
                if !streamed {
                    on_delta(answer.clone());
                }
                outcome.answered_by = if source == AnswerSource::Remote { "remote" } else { "local" };
                outcome.answer = answer;
                outcome.cost = cost;
                outcome.currency = currency;
                outcome.question_id = question_id;
            }
        },
        cancel,
    );
    if let Err(error) = asked {
        // The conversation was started for this request alone.
        let _ = assistant.discard_empty_conversation(conversation);
        return Err(engine_error(error));
    }
    // Counted with the local model's tokenizer (what it read and wrote; a remote model counts its own).
    if let Ok(model) = assistant.model() {
        let count = |text: &str| model.count_tokens(text).unwrap_or(0);
        outcome.prompt_tokens = count(&request.question) + passages.iter().map(|passage| count(passage)).sum::<usize>();
        outcome.completion_tokens = count(&outcome.answer);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(user: Option<&str>) -> ChatRequest {
        let body = match user {
            Some(user) => format!(r#"{{"model":"automix","messages":[{{"role":"user","content":"q"}}],"user":"{user}"}}"#),
            None => r#"{"model":"automix","messages":[{"role":"user","content":"q"}]}"#.to_string(),
        };
        ChatRequest::parse(body.as_bytes()).unwrap()
    }

    #[test]
    fn the_client_is_named_by_user_then_header_then_user_agent() {
        let mut headers = HeaderMap::new();
        headers.insert("user-agent", HeaderValue::from_static("OpenAI/Python 1.59.3"));
        assert_eq!(client_name(&request(None), &headers), "OpenAI/Python");
        headers.insert("user-agent", HeaderValue::from_static("curl/8.1.2"));
        assert_eq!(client_name(&request(None), &headers), "curl");
        headers.insert("x-client-name", HeaderValue::from_static("Obsidian"));
        assert_eq!(client_name(&request(None), &headers), "Obsidian");
        assert_eq!(client_name(&request(Some("notes")), &headers), "notes");
        assert_eq!(client_name(&request(None), &HeaderMap::new()), "unknown client");
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("amx-abc", "amx-abc"));
        assert!(!same_secret("amx-abd", "amx-abc"));
        assert!(!same_secret("amx-ab", "amx-abc"));
        assert!(!same_secret("", "amx-abc"));
    }
}
