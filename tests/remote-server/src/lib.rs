//! An OpenAI-compatible Chat Completions server for tests: replays real recorded answers for
//! known questions, falls back to a deterministic answer, and injects provider faults on demand.
//!
//! Faults are queued (`TestServer::push_faults`, or `POST /control/faults` with a JSON list) and
//! each request takes the next one; a request may also carry one in the `x-automix-fault` header
//! as JSON, e.g. `{"too_many_requests":{"retry_after_secs":1}}`.

mod answers;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub use answers::{default_data_dir, fallback_answer, normalize, AnswerBook, AnswerBookError, AnswerSource};

/// A provider misbehaviour to inject into one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// Wait this long before responding, then answer normally.
    Latency { millis: u64 },
    /// 429 with a `Retry-After` header.
    TooManyRequests { retry_after_secs: u64 },
    /// 500 Internal Server Error.
    ServerError,
    /// 401 whose message echoes the key, as some providers do.
    Unauthorized,
    /// A stream (or body) that is not valid JSON.
    MalformedSse,
    /// Send part of the answer, then drop the connection.
    DisconnectMidStream,
    /// Answer normally but report no usage.
    MissingUsage,
    /// 200 with an HTML body, like a captive portal or a misconfigured proxy.
    WrongContentType,
}

/// One request the server received, for assertions about what left the client.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    /// The JSON body.
    pub body: Value,
    /// The body's length in bytes as it arrived.
    pub body_bytes: usize,
}

#[derive(Default)]
struct Shared {
    faults: VecDeque<Fault>,
    received: Vec<ReceivedRequest>,
}

#[derive(Clone)]
struct AppState {
    book: Arc<AnswerBook>,
    shared: Arc<Mutex<Shared>>,
}

impl AppState {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panicking handler cannot leave Shared half-updated, so a poisoned lock is still usable.
        self.shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running test server on a loopback port.
pub struct TestServer {
    address: SocketAddr,
    state: AppState,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestServer {
    /// Starts serving on `127.0.0.1:port` (0 picks a free port) inside the current tokio runtime.
    pub async fn start(book: Arc<AnswerBook>, port: u16) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        Ok(Self::serve(listener, book))
    }

    /// Starts serving on a free loopback port with a runtime of its own, for synchronous tests.
    pub fn start_blocking(book: Arc<AnswerBook>) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", 0)))?;
        let entered = runtime.enter();
        let mut server = Self::serve(listener, book);
        drop(entered);
        server.runtime = Some(runtime);
        Ok(server)
    }

    fn serve(listener: tokio::net::TcpListener, book: Arc<AnswerBook>) -> Self {
        let address = listener.local_addr().expect("a bound listener has an address");
        let state = AppState { book, shared: Arc::default() };
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(state.clone());
        tokio::spawn(async move {
            let graceful = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = graceful.await {
                eprintln!("test remote server stopped: {error}");
            }
        });
        TestServer { address, state, shutdown: Some(shutdown), runtime: None }
    }

    /// The bound address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The OpenAI-style base URL, e.g. `http://127.0.0.1:43121/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// Queues faults; each following request takes one, in order.
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().faults.extend(faults);
    }

    /// Requests received so far.
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.state.lock().received.clone()
    }

    /// How many chat requests arrived.
    pub fn request_count(&self) -> usize {
        self.state.lock().received.len()
    }

    /// Runs until the process is stopped (for the binary).
    pub async fn wait_forever(self) {
        std::future::pending::<()>().await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/control/faults", post(queue_faults))
        .route("/control/requests", get(request_total))
        .route("/control/received", get(received_requests))
        .with_state(state)
}

async fn queue_faults(State(state): State<AppState>, Json(faults): Json<Vec<Fault>>) -> StatusCode {
    state.lock().faults.extend(faults);
    StatusCode::NO_CONTENT
}

async fn request_total(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "requests": state.lock().received.len() }))
}

/// Every chat request received so far, oldest first: its body and the body's size in bytes, for
/// tests that check what left the app byte for byte (the key is not echoed).
async fn received_requests(State(state): State<AppState>) -> Json<Value> {
    let received: Vec<Value> = state.lock().received.iter().map(|request| json!({ "body_bytes": request.body_bytes, "body": request.body })).collect();
    Json(Value::Array(received))
}

/// Deterministic token counts: words plus a few framing tokens per message.
fn count_prompt_tokens(messages: &[Value]) -> u64 {
    messages.iter().map(|message| message.get("content").and_then(Value::as_str).unwrap_or("").split_whitespace().count() as u64 + 4).sum::<u64>() + 3
}

fn error_json(status: StatusCode, message: &str, kind: &str) -> Response {
    (status, Json(json!({ "error": { "message": message, "type": kind } }))).into_response()
}

async fn chat_completions(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()).map(str::to_string);
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => return error_json(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {error}"), "invalid_request_error"),
    };
    let header_fault = headers.get("x-automix-fault").and_then(|value| value.to_str().ok()).and_then(|text| serde_json::from_str::<Fault>(text).ok());
    let fault = {
        let mut shared = state.lock();
        shared.received.push(ReceivedRequest { authorization: authorization.clone(), body: request.clone(), body_bytes: body.len() });
        header_fault.or_else(|| shared.faults.pop_front())
    };

    let Some(messages) = request.get("messages").and_then(Value::as_array).cloned() else {
        return error_json(StatusCode::BAD_REQUEST, "`messages` is required", "invalid_request_error");
    };
    let model = request.get("model").and_then(Value::as_str).unwrap_or("test-model").to_string();
    let stream = request.get("stream").and_then(Value::as_bool).unwrap_or(false);
    let include_usage = request.pointer("/stream_options/include_usage").and_then(Value::as_bool).unwrap_or(false);
    let max_tokens = request.get("max_tokens").and_then(Value::as_u64).unwrap_or(u64::MAX);

    match &fault {
        Some(Fault::Latency { millis }) => tokio::time::sleep(Duration::from_millis(*millis)).await,
        Some(Fault::TooManyRequests { retry_after_secs }) => {
            let mut response = error_json(StatusCode::TOO_MANY_REQUESTS, "Rate limit reached, retry later", "rate_limit_error");
            response.headers_mut().insert(header::RETRY_AFTER, retry_after_secs.to_string().parse().expect("digits are a valid header"));
            return response;
        }
        Some(Fault::ServerError) => return error_json(StatusCode::INTERNAL_SERVER_ERROR, "The server had an error", "server_error"),
        Some(Fault::Unauthorized) => {
            let sent = authorization.as_deref().unwrap_or("").trim_start_matches("Bearer ");
            return error_json(StatusCode::UNAUTHORIZED, &format!("Incorrect API key provided: {sent}"), "invalid_api_key");
        }
        Some(Fault::WrongContentType) => {
            return ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], "<html><body>Please sign in to the network</body></html>").into_response()
        }
        _ => {}
    }

    let user_message = messages
        .iter()
        .rev()
        .find(|message| message.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|message| message.get("content").and_then(Value::as_str))
        .unwrap_or("");
    let (answer, _) = state.book.answer_for(user_message);
    let all_pieces: Vec<String> = answer.split_inclusive(' ').map(str::to_string).collect();
    let truncated = all_pieces.len() as u64 > max_tokens;
    let pieces: Vec<String> = all_pieces.into_iter().take(max_tokens.min(usize::MAX as u64) as usize).collect();
    let usage = json!({
        "prompt_tokens": count_prompt_tokens(&messages),
        "completion_tokens": pieces.len(),
        "total_tokens": count_prompt_tokens(&messages) + pieces.len() as u64,
    });
    let finish_reason = if truncated { "length" } else { "stop" };
    let report_usage = !matches!(fault, Some(Fault::MissingUsage));

    if stream {
        stream_response(&model, pieces, finish_reason, (report_usage && include_usage).then_some(usage), fault)
    } else {
        whole_response(&model, pieces.concat(), finish_reason, report_usage.then_some(usage), fault)
    }
}

fn stream_response(model: &str, pieces: Vec<String>, finish_reason: &str, usage: Option<Value>, fault: Option<Fault>) -> Response {
    let event = |value: Value| Bytes::from(format!("data: {value}\n\n"));
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({
            "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        })
    };
    let mut events: Vec<Bytes> = vec![event(chunk(json!({ "role": "assistant", "content": "" }), None))];
    events.extend(pieces.iter().map(|piece| event(chunk(json!({ "content": piece }), None))));
    events.push(event(chunk(json!({}), Some(finish_reason))));
    if let Some(usage) = usage {
        events.push(event(json!({ "id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage })));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));

    let body = match fault {
        Some(Fault::MalformedSse) => Body::from_stream(futures_util::stream::iter([
            Ok::<_, std::io::Error>(events[0].clone()),
            Ok(Bytes::from_static(b"data: {\"choices\": [{\"delta\": {\"content\": \n\n")),
        ])),
        Some(Fault::DisconnectMidStream) => body_then_disconnect(events.into_iter().take(3).collect()),
        _ => Body::from_stream(futures_util::stream::iter(events.into_iter().map(Ok::<_, std::io::Error>))),
    };
    ([(header::CONTENT_TYPE, "text/event-stream"), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

fn whole_response(model: &str, text: String, finish_reason: &str, usage: Option<Value>, fault: Option<Fault>) -> Response {
    let mut body = json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": finish_reason }],
    });
    if let Some(usage) = usage {
        body["usage"] = usage;
    }
    let serialized = body.to_string();
    let half = Bytes::from(serialized[..serialized.len() / 2].to_string());
    let body = match fault {
        Some(Fault::MalformedSse) => Body::from(half),
        Some(Fault::DisconnectMidStream) => body_then_disconnect(vec![half]),
        _ => Body::from(serialized),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Sends `frames`, then breaks the connection. The pause lets the headers and frames reach the
/// client first, as when a provider dies mid-answer (an immediate error would abort the
/// response before it starts).
fn body_then_disconnect(frames: Vec<Bytes>) -> Body {
    use futures_util::StreamExt;
    let sent = futures_util::stream::iter(frames.into_iter().map(Ok::<_, std::io::Error>));
    let broken = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected disconnect"))
    });
    Body::from_stream(sent.chain(broken))
}
