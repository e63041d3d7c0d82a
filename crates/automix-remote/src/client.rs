//! The OpenAI-compatible Chat Completions client: streaming and not, with retries and cancellation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rand::Rng;
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::key::ApiKey;
use crate::settings::{EndpointError, RemoteSettings};
use crate::sse::SseDecoder;
use automix_types::{estimate_tokens, EscalationPayload, NetworkPurpose, NetworkRequest, Usage};

/// Set to `true` to cancel a call; checked while waiting for and reading the response.
pub type CancelFlag = Arc<AtomicBool>;

/// A retry that happened before the call succeeded or gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryNote {
    /// The attempt that failed (1-based).
    pub attempt: u32,
    /// Why it was retried (status or connect error).
    pub cause: String,
    /// How long the client waited before the next attempt (from `Retry-After` when sent).
    pub delay_ms: u64,
}

/// A completed remote answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteAnswer {
    /// The answer text.
    pub text: String,
    /// The model id the server reports (or the requested one when it reports none).
    pub model: String,
    /// Token usage, from the server or estimated.
    pub usage: Usage,
    /// True when the server sent no usage and `usage` is a chars/4 estimate.
    pub usage_estimated: bool,
    /// Why generation stopped (`stop`, `length`, ...), when the server says.
    pub finish_reason: Option<String>,
    /// Wall time from the first request to the end of the answer, retries included.
    pub latency_ms: u64,
    /// Retries before success.
    pub retries: Vec<RetryNote>,
}

/// Why a remote call failed. Messages never contain the API key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RemoteError {
    /// The endpoint is invalid or insecure.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The provider refused the request (4xx other than 429); retrying would not help.
    #[error("the remote model refused the request (HTTP {status}): {message}; check the API key, model id and endpoint in the settings")]
    Rejected { status: u16, message: String },
    /// Connect errors, 429 or 5xx persisted through every attempt.
    #[error("the remote model was unavailable after {attempts} attempts (last: {last}); try again later")]
    RetriesExhausted { attempts: u32, last: String, retries: Vec<RetryNote> },
    /// The provider asked to wait longer than the configured maximum.
    #[error("the remote model is rate limited for {retry_after_ms} ms, longer than the {max_ms} ms this app waits; try again later or raise the limit")]
    RateLimited { retry_after_ms: u64, max_ms: u64 },
    /// The server stopped responding.
    #[error("the remote model sent nothing for {after_ms} ms; it may be overloaded (raise the read timeout to wait longer)")]
    Timeout { after_ms: u64 },
    /// The connection broke after the answer began; what arrived is kept.
    #[error("the connection to the remote model broke mid-answer ({detail}); the partial answer was discarded")]
    Interrupted { partial_text: String, detail: String },
    /// The server's reply is not an OpenAI-compatible response.
    #[error("the remote endpoint did not answer like an OpenAI-compatible API: {detail}; check the endpoint URL")]
    Protocol { detail: String },
    /// The request could not be sent for a reason other than connecting.
    #[error("the request to the remote model failed: {detail}")]
    Transport { detail: String },
    /// The user cancelled.
    #[error("cancelled")]
    Cancelled { partial_text: String },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTPS client: {detail}")]
    ClientSetup { detail: String },
}

/// The outcome of one attempt, before the retry policy decides.
enum AttemptError {
    Retry { cause: String, retry_after: Option<Duration> },
    Fatal(RemoteError),
}

/// Client for one remote model endpoint.
#[derive(Debug, Clone)]
pub struct RemoteClient {
    settings: RemoteSettings,
    key: Option<ApiKey>,
    url: reqwest::Url,
    http: reqwest::Client,
}

const SERVER_MESSAGE_LIMIT: usize = 300;
const CANCEL_POLL: Duration = Duration::from_millis(20);

impl RemoteClient {
    /// A client for `settings`; `key` is sent as a bearer token (local servers need none).
    /// Fails for an invalid or plain-http non-loopback endpoint.
    pub fn new(settings: RemoteSettings, key: Option<ApiKey>) -> Result<Self, RemoteError> {
        let url = settings.chat_completions_url()?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout())
            .https_only(url.scheme() == "https")
            // A fresh connection per call: escalations come minutes apart, after a provider has
            // usually closed an idle connection, and llama.cpp's server closes one after a
            // streamed answer. Sending on such a closed connection fails after the request was
            // written, where a retry could pay twice; a new connection costs one handshake.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|error| RemoteError::ClientSetup { detail: error.to_string() })?;
        Ok(RemoteClient { settings, key, url, http })
    }

    /// The settings this client uses.
    pub fn settings(&self) -> &RemoteSettings {
        &self.settings
    }

    /// The host its requests go to, with the port where the endpoint names one.
    pub fn host(&self) -> String {
        host_of(&self.url)
    }

    /// Streams an answer, calling `on_token` for each piece of text as it arrives, and
    /// `on_request` after each HTTP attempt with what it put on the wire (for the network log).
    pub async fn chat_stream(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        mut on_token: impl FnMut(&str),
        on_request: &mut dyn FnMut(NetworkRequest),
        cancel: &CancelFlag,
    ) -> Result<RemoteAnswer, RemoteError> {
        self.with_retries(payload, max_tokens, Some(&mut on_token), on_request, cancel).await
    }

    /// Fetches a whole answer in one response; `on_request` as for [`RemoteClient::chat_stream`].
    pub async fn chat(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        on_request: &mut dyn FnMut(NetworkRequest),
        cancel: &CancelFlag,
    ) -> Result<RemoteAnswer, RemoteError> {
        self.with_retries(payload, max_tokens, None, on_request, cancel).await
    }

    /// Runs attempts until one succeeds or the policy gives up; streams when `on_token` is given.
    async fn with_retries(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        mut on_token: Option<&mut dyn FnMut(&str)>,
        on_request: &mut dyn FnMut(NetworkRequest),
        cancel: &CancelFlag,
    ) -> Result<RemoteAnswer, RemoteError> {
        let started = Instant::now();
        let max_attempts = self.settings.max_attempts.max(1);
        let mut retries = Vec::new();
        for attempt_number in 1..=max_attempts {
            if cancel.load(Ordering::Relaxed) {
                return Err(RemoteError::Cancelled { partial_text: String::new() });
            }
            let mut traffic = Traffic::new();
            let outcome = match on_token.as_deref_mut() {
                Some(on_token) => self.stream_attempt(payload, max_tokens, on_token, &mut traffic, cancel).await,
                None => self.whole_attempt(payload, max_tokens, &mut traffic, cancel).await,
            };
            let failure = match &outcome {
                Ok(_) => None,
                Err(AttemptError::Retry { cause, .. }) => Some(cause.clone()),
                Err(AttemptError::Fatal(error)) => Some(error.log_summary()),
            };
            on_request(traffic.into_request(&self.url, failure));
            match outcome {
                Ok(reply) => return Ok(reply.into_answer(payload, &self.settings.model, started, retries)),
                Err(AttemptError::Fatal(error)) => return Err(self.scrub(error)),
                Err(AttemptError::Retry { cause, retry_after }) => {
                    if attempt_number == max_attempts {
                        return Err(self.scrub(RemoteError::RetriesExhausted { attempts: attempt_number, last: cause, retries }));
                    }
                    let delay = match retry_after {
                        Some(wait) if wait.as_millis() as u64 > self.settings.max_retry_after_ms => {
                            return Err(RemoteError::RateLimited { retry_after_ms: wait.as_millis() as u64, max_ms: self.settings.max_retry_after_ms });
                        }
                        Some(wait) => wait,
                        None => self.backoff(attempt_number),
                    };
                    retries.push(RetryNote { attempt: attempt_number, cause, delay_ms: delay.as_millis() as u64 });
                    if !sleep_unless_cancelled(delay, cancel).await {
                        return Err(RemoteError::Cancelled { partial_text: String::new() });
                    }
                }
            }
        }
        unreachable!("the loop returns on its last attempt")
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, so clients that failed
    /// together do not retry together.
    fn backoff(&self, failed_attempt: u32) -> Duration {
        let exponential = self.settings.backoff_base_ms.saturating_mul(1 << (failed_attempt - 1).min(16));
        let half = exponential / 2;
        Duration::from_millis(half + rand::rng().random_range(0..=half))
    }

    fn request(&self, payload: &EscalationPayload, max_tokens: u32, stream: bool, traffic: &mut Traffic) -> reqwest::RequestBuilder {
        let mut body = json!({
            "model": self.settings.model,
            "messages": payload.to_messages(),
            "max_tokens": max_tokens,
            "stream": stream,
        });
        if stream {
            body["stream_options"] = json!({ "include_usage": true });
        }
        // Serialised here rather than by `.json()` so the log counts exactly the bytes sent.
        let body = serde_json::to_vec(&body).expect("a JSON value serialises");
        traffic.bytes_sent = body.len() as u64;
        let mut request = self.http.post(self.url.clone()).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose());
        }
        request
    }

    /// Sends the request and checks the status and content type.
    async fn open(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        stream: bool,
        traffic: &mut Traffic,
        cancel: &CancelFlag,
    ) -> Result<Response, AttemptError> {
        let send = self.request(payload, max_tokens, stream, traffic).send();
        let response = match self.wait(send, cancel).await? {
            Ok(response) => response,
            Err(error) if error.is_connect() => {
                return Err(AttemptError::Retry { cause: format!("connect error: {}", error_chain(&error)), retry_after: None })
            }
            Err(error) => return Err(AttemptError::Fatal(RemoteError::Transport { detail: error_chain(&error) })),
        };
        let status = response.status();
        traffic.status = Some(status.as_u16());
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            let retry_after = retry_after(response.headers());
            return Err(AttemptError::Retry { cause: format!("HTTP {}", status.as_u16()), retry_after });
        }
        if !status.is_success() {
            let body = self.wait(response.text(), cancel).await?.unwrap_or_default();
            traffic.bytes_received += body.len() as u64;
            return Err(AttemptError::Fatal(RemoteError::Rejected { status: status.as_u16(), message: server_message(&body) }));
        }
        let expected = if stream { "text/event-stream" } else { "application/json" };
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
        if !content_type.to_ascii_lowercase().starts_with(expected) {
            return Err(AttemptError::Fatal(RemoteError::Protocol { detail: format!("expected content type {expected}, got `{content_type}`") }));
        }
        Ok(response)
    }

    async fn stream_attempt(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        on_token: &mut dyn FnMut(&str),
        traffic: &mut Traffic,
        cancel: &CancelFlag,
    ) -> Result<Reply, AttemptError> {
        let response = self.open(payload, max_tokens, true, traffic, cancel).await?;
        let mut body = response.bytes_stream();
        let mut decoder = SseDecoder::default();
        let mut reply = Reply::default();
        loop {
            let next = match self.wait(body.next(), cancel).await {
                Ok(next) => next,
                Err(AttemptError::Fatal(RemoteError::Cancelled { .. })) => {
                    return Err(AttemptError::Fatal(RemoteError::Cancelled { partial_text: reply.text }))
                }
                Err(other) => return Err(other),
            };
            let bytes = match next {
                Some(Ok(bytes)) => {
                    traffic.bytes_received += bytes.len() as u64;
                    bytes
                }
                Some(Err(error)) => return Err(AttemptError::Fatal(RemoteError::Interrupted { partial_text: reply.text, detail: error_chain(&error) })),
                None => break,
            };
            for data in decoder.push(&bytes) {
                if data.trim() == "[DONE]" {
                    reply.done = true;
                    continue;
                }
                let event: Value = serde_json::from_str(&data)
                    .map_err(|error| AttemptError::Fatal(RemoteError::Protocol { detail: format!("malformed stream event ({error})") }))?;
                if let Some(error) = event.get("error") {
                    return Err(AttemptError::Fatal(RemoteError::Rejected { status: 200, message: server_message(&error.to_string()) }));
                }
                if let Some(piece) = reply.absorb_chunk(&event) {
                    on_token(&piece);
                }
            }
        }
        if !reply.done && reply.finish_reason.is_none() {
            return Err(AttemptError::Fatal(RemoteError::Interrupted {
                partial_text: reply.text,
                detail: "the stream ended without a finish reason or [DONE]".into(),
            }));
        }
        Ok(reply)
    }

    async fn whole_attempt(&self, payload: &EscalationPayload, max_tokens: u32, traffic: &mut Traffic, cancel: &CancelFlag) -> Result<Reply, AttemptError> {
        let response = self.open(payload, max_tokens, false, traffic, cancel).await?;
        let body = match self.wait(response.bytes(), cancel).await? {
            Ok(body) => {
                traffic.bytes_received += body.len() as u64;
                body
            }
            Err(error) => return Err(AttemptError::Fatal(RemoteError::Interrupted { partial_text: String::new(), detail: error_chain(&error) })),
        };
        let value: Value = serde_json::from_slice(&body)
            .map_err(|error| AttemptError::Fatal(RemoteError::Protocol { detail: format!("malformed JSON response ({error})") }))?;
        let choice =
            value.pointer("/choices/0").ok_or_else(|| AttemptError::Fatal(RemoteError::Protocol { detail: "the response has no `choices`".into() }))?;
        Ok(Reply {
            text: choice.pointer("/message/content").and_then(Value::as_str).unwrap_or_default().to_string(),
            model: value.get("model").and_then(Value::as_str).map(str::to_string),
            usage: value.get("usage").and_then(parse_usage),
            finish_reason: choice.get("finish_reason").and_then(Value::as_str).map(str::to_string),
            done: true,
        })
    }

    /// Awaits `future` under the read timeout, giving up early when cancelled.
    async fn wait<T>(&self, future: impl std::future::Future<Output = T>, cancel: &CancelFlag) -> Result<T, AttemptError> {
        let timeout = self.settings.read_timeout();
        tokio::select! {
            result = tokio::time::timeout(timeout, future) => result.map_err(|_| {
                AttemptError::Fatal(RemoteError::Timeout { after_ms: timeout.as_millis() as u64 })
            }),
            () = wait_for_cancel(cancel) => Err(AttemptError::Fatal(RemoteError::Cancelled { partial_text: String::new() })),
        }
    }

    /// Removes the key from anything a server echoed back into an error.
    fn scrub(&self, error: RemoteError) -> RemoteError {
        let Some(key) = &self.key else { return error };
        let clean = |text: String| if key.expose().is_empty() { text } else { text.replace(key.expose(), "<redacted>") };
        match error {
            RemoteError::Rejected { status, message } => RemoteError::Rejected { status, message: clean(message) },
            RemoteError::Protocol { detail } => RemoteError::Protocol { detail: clean(detail) },
            RemoteError::Transport { detail } => RemoteError::Transport { detail: clean(detail) },
            RemoteError::Interrupted { partial_text, detail } => RemoteError::Interrupted { partial_text, detail: clean(detail) },
            RemoteError::RetriesExhausted { attempts, last, retries } => RemoteError::RetriesExhausted { attempts, last: clean(last), retries },
            other => other,
        }
    }
}

/// "api.openai.com", or "127.0.0.1:8080" where the URL names a port: where a request goes, as the
/// network log and the approval card show it.
fn host_of(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        (None, _) => String::new(),
    }
}

/// What one attempt put on the wire, for the network log.
struct Traffic {
    at_ms: i64,
    started: Instant,
    bytes_sent: u64,
    bytes_received: u64,
    status: Option<u16>,
}

impl Traffic {
    fn new() -> Self {
        let at_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|since| since.as_millis() as i64).unwrap_or(0);
        Traffic { at_ms, started: Instant::now(), bytes_sent: 0, bytes_received: 0, status: None }
    }

    fn into_request(self, url: &reqwest::Url, error: Option<String>) -> NetworkRequest {
        NetworkRequest {
            at_ms: self.at_ms,
            purpose: NetworkPurpose::Escalation,
            host: host_of(url),
            what: format!("POST {}", url.path()),
            bytes_sent: Some(self.bytes_sent),
            bytes_received: self.bytes_received,
            status: self.status,
            error,
            duration_ms: self.started.elapsed().as_millis() as u64,
            cost: 0.0,
            currency: None,
        }
    }
}

impl RemoteError {
    /// What went wrong in a few words, for the network log: never the server's message, which may
    /// echo the key or the question.
    fn log_summary(&self) -> String {
        match self {
            RemoteError::Endpoint(_) => "invalid endpoint".into(),
            RemoteError::Rejected { status, .. } => format!("refused (HTTP {status})"),
            RemoteError::RetriesExhausted { .. } => "unavailable".into(),
            RemoteError::RateLimited { .. } => "rate limited".into(),
            RemoteError::Timeout { after_ms } => format!("no reply for {after_ms} ms"),
            RemoteError::Interrupted { .. } => "interrupted mid-answer".into(),
            RemoteError::Protocol { .. } => "not an OpenAI-compatible reply".into(),
            RemoteError::Transport { .. } => "could not be sent".into(),
            RemoteError::Cancelled { .. } => "cancelled".into(),
            RemoteError::ClientSetup { .. } => "client setup failed".into(),
        }
    }
}

/// What one successful attempt gathered.
#[derive(Default)]
struct Reply {
    text: String,
    model: Option<String>,
    usage: Option<Usage>,
    finish_reason: Option<String>,
    done: bool,
}

impl Reply {
    /// Takes one streamed chunk; returns its new text, if any.
    fn absorb_chunk(&mut self, event: &Value) -> Option<String> {
        if let Some(model) = event.get("model").and_then(Value::as_str) {
            self.model = Some(model.to_string());
        }
        if let Some(usage) = event.get("usage").and_then(parse_usage) {
            self.usage = Some(usage);
        }
        let choice = event.pointer("/choices/0")?;
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        let piece = choice.pointer("/delta/content").and_then(Value::as_str).filter(|piece| !piece.is_empty())?;
        self.text.push_str(piece);
        Some(piece.to_string())
    }

    fn into_answer(self, payload: &EscalationPayload, requested_model: &str, started: Instant, retries: Vec<RetryNote>) -> RemoteAnswer {
        let (usage, usage_estimated) = match self.usage {
            Some(usage) => (usage, false),
            None => {
                let prompt: u64 = payload.to_messages().iter().map(|message| estimate_tokens(&message.content)).sum();
                (Usage { prompt_tokens: prompt, completion_tokens: estimate_tokens(&self.text) }, true)
            }
        };
        RemoteAnswer {
            text: self.text,
            model: self.model.unwrap_or_else(|| requested_model.to_string()),
            usage,
            usage_estimated,
            finish_reason: self.finish_reason,
            latency_ms: started.elapsed().as_millis() as u64,
            retries,
        }
    }
}

fn parse_usage(value: &Value) -> Option<Usage> {
    Some(Usage { prompt_tokens: value.get("prompt_tokens")?.as_u64()?, completion_tokens: value.get("completion_tokens")?.as_u64()? })
}

/// `Retry-After` in seconds (the HTTP-date form is rare for APIs and falls back to backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: f64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The provider's `error.message` when the body is OpenAI-style JSON, else the body, shortened.
fn server_message(body: &str) -> String {
    let message = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| value.pointer("/error/message").or_else(|| value.get("message")).and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    if message.chars().count() > SERVER_MESSAGE_LIMIT {
        format!("{}…", message.chars().take(SERVER_MESSAGE_LIMIT).collect::<String>())
    } else {
        message
    }
}

/// The error with its causes, which is where reqwest puts the useful part.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

async fn wait_for_cancel(cancel: &CancelFlag) {
    while !cancel.load(Ordering::Relaxed) {
        tokio::time::sleep(CANCEL_POLL).await;
    }
}

/// Sleeps for `delay`; false when cancelled first.
async fn sleep_unless_cancelled(delay: Duration, cancel: &CancelFlag) -> bool {
    tokio::select! {
        () = tokio::time::sleep(delay) => true,
        () = wait_for_cancel(cancel) => false,
    }
}

/// A blocking wrapper that owns its runtime, for callers without one.
#[derive(Debug)]
pub struct BlockingRemoteClient {
    runtime: tokio::runtime::Runtime,
    client: RemoteClient,
}

impl BlockingRemoteClient {
    /// Wraps `client` with a private single-threaded runtime.
    pub fn new(client: RemoteClient) -> Result<Self, RemoteError> {
        let runtime =
            tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|error| RemoteError::ClientSetup { detail: error.to_string() })?;
        Ok(BlockingRemoteClient { runtime, client })
    }

    /// The settings the wrapped client uses.
    pub fn settings(&self) -> &RemoteSettings {
        self.client.settings()
    }

    /// [`RemoteClient::host`].
    pub fn host(&self) -> String {
        self.client.host()
    }

    /// Blocking [`RemoteClient::chat_stream`].
    pub fn chat_stream(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        on_token: impl FnMut(&str),
        on_request: &mut dyn FnMut(NetworkRequest),
        cancel: &CancelFlag,
    ) -> Result<RemoteAnswer, RemoteError> {
        self.runtime.block_on(self.client.chat_stream(payload, max_tokens, on_token, on_request, cancel))
    }

    /// Blocking [`RemoteClient::chat`].
    pub fn chat(
        &self,
        payload: &EscalationPayload,
        max_tokens: u32,
        on_request: &mut dyn FnMut(NetworkRequest),
        cancel: &CancelFlag,
    ) -> Result<RemoteAnswer, RemoteError> {
        self.runtime.block_on(self.client.chat(payload, max_tokens, on_request, cancel))
    }
}
