//! The one error every command returns: a stable `code` for the UI to switch on and a message
//! for people. Engine errors keep their own codes.

use automix::types::ErrorCode;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError { code, message: message.into() }
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for AppError {}

impl From<automix::assistant::AskError> for AppError {
    fn from(error: automix::assistant::AskError) -> Self {
        AppError::new(error.code(), error.to_string())
    }
}

impl From<automix::settings::SettingsError> for AppError {
    fn from(error: automix::settings::SettingsError) -> Self {
        AppError::new(error.code(), error.to_string())
    }
}

impl From<automix_serve::ServeError> for AppError {
    fn from(error: automix_serve::ServeError) -> Self {
        AppError::new(error.code(), error.to_string())
    }
}

/// Errors of the domain crates reach the UI with the facade's codes.
macro_rules! through_the_facade {
    ($($error:ty),*) => {$(
        impl From<$error> for AppError {
            fn from(error: $error) -> Self {
                automix::assistant::AskError::from(error).into()
            }
        }
    )*};
}

through_the_facade!(
    automix::docs::DocsError,
    automix::models::ModelsError,
    automix::budget::BudgetError,
    automix::remote::KeyStoreError,
    automix::history::StoreError
);

/// Runs engine work on the blocking pool: model inference, SQLite and the blocking remote client
/// must never run on the async runtime's threads.
pub async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, AppError> + Send + 'static) -> Result<T, AppError> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|error| AppError::new(ErrorCode::Internal, format!("the operation stopped unexpectedly: {error}")))?
}
