//! Errors in OpenAI's shape (`{"error": {"message", "type", "param", "code"}}`), so a client
//! library raises its usual exception with our message, and the server's own start-up errors.

use std::net::SocketAddr;

use automix::assistant::AskError;
use automix::types::ErrorCode;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A refused or failed request, as the client sees it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// OpenAI's error `type`: `invalid_request_error`, `authentication_error`, `rate_limit_error`
    /// or `server_error`.
    pub kind: &'static str,
    /// A stable machine-readable code (OpenAI's where one exists, e.g. `model_not_found`).
    pub code: &'static str,
    pub param: Option<&'static str>,
    pub message: String,
    /// Seconds a client should wait before trying again (429 and 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, kind, code, param: None, message: message.into(), retry_after: None }
    }

    pub fn invalid(code: &'static str, param: Option<&'static str>, message: impl Into<String>) -> Self {
        ApiError { param, ..Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", code, message) }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "authentication_error", "invalid_api_key", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", "not_found", message)
    }

    pub fn model_not_found(model: &str, offered: &[&str]) -> Self {
        ApiError {
            param: Some("model"),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                format!("The model `{model}` does not exist here; this server offers {}", offered.join(", ")),
            )
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "internal", message)
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!("The request body is over this server's limit of {limit} bytes"),
        )
    }

    pub fn queue_full(queued: usize, retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "queue_full",
                format!(
                    "The local model is answering one request and {queued} more are waiting, the most this server queues; try again in about {retry_after} s"
                ),
            )
        }
    }

    /// A failure of the engine, with the app's stable code in the message's place of honour.
    pub fn from_engine(error: &AskError) -> Self {
        let code = error.code();
        let message = error.to_string();
        match code {
            ErrorCode::ModelNotReady => {
                ApiError { retry_after: Some(5), ..Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", "model_not_ready", message) }
            }
            ErrorCode::LibraryEmpty => {
                Self::invalid("library_empty", Some("model"), format!("{message}; or ask the `automix` model, which answers from the request's own messages"))
            }
            ErrorCode::ContextOverflow => Self::invalid("context_length_exceeded", Some("messages"), message),
            ErrorCode::Cancelled => Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_error", "cancelled", message),
            other => Self::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", other.as_str(), message),
        }
    }

    pub fn body(&self) -> serde_json::Value {
        json!({ "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code } })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("port {} is already in use on {}; stop the program using it or choose another port (Settings → Local API, or `automix serve --port N`)", .addr.port(), .addr.ip())]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot start the server's threads: {0}")]
    Runtime(std::io::Error),
    #[error("the local API's access token cannot be kept: {0}")]
    Token(#[from] automix::remote::KeyStoreError),
}

impl ServeError {
    /// A stable identifier the app can switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            ServeError::PortInUse { .. } => ErrorCode::PortInUse,
            ServeError::Bind { .. } | ServeError::Runtime(_) => ErrorCode::Internal,
            ServeError::Token(_) => ErrorCode::Keychain,
        }
    }
}
