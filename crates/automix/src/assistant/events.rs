//! What `Assistant::ask` reports while it works, and how it fails. Shaped for the desktop shell:
//! every event serializes to JSON with a `kind` tag; every error has a stable `code`.

use serde::Serialize;

use automix_docs::Citation;

/// Where the final answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    Local,
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Keep the local answer.
    Keep,
    /// Send the question to the remote model.
    Escalate,
    /// The router would escalate, but the budget (or the lack of a remote model) keeps it local.
    StayLocal,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskEvent {
    Retrieved { citations: Vec<Citation> },
    LocalToken { text: String },
    /// Self-verification finished: `v` is the verifier's P(correct); `grounded` whether the answer
    /// occurs in the retrieved text.
    Verified { v: f64, grounded: bool },
    Routed {
        decision: Decision,
        reason: String,
        /// P(local answer correct) given the signals, as the router estimates it.
        local_confidence: f64,
        /// Worst-case cost of escalating, in `currency`.
        estimated_cost: Option<f64>,
        currency: String,
    },
    RemoteToken { text: String },
    /// The remote call failed after its retries; the local answer stands.
    RemoteFailed { message: String },
    Done { answer: String, source: AnswerSource, cost: f64, currency: String, question_id: i64 },
}

#[derive(Debug, thiserror::Error)]
pub enum AskError {
    #[error("the question was cancelled")]
    Cancelled,
    #[error(transparent)]
    Model(#[from] automix_llm::LlmError),
    #[error(transparent)]
    ModelFiles(#[from] automix_models::ModelsError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error(transparent)]
    Library(#[from] automix_docs::DocsError),
    #[error(transparent)]
    Embedder(#[from] automix_docs::EmbedError),
    #[error(transparent)]
    History(#[from] automix_store::StoreError),
    #[error(transparent)]
    Budget(#[from] automix_budget::BudgetError),
    #[error(transparent)]
    Remote(#[from] automix_remote::RemoteError),
    #[error(transparent)]
    Pricing(#[from] automix_remote::PricingError),
    #[error("router calibration: {0}")]
    Router(String),
    #[error("the library has no documents yet: add some with `automix docs add PATH`")]
    EmptyLibrary,
}

impl AskError {
    /// A stable identifier the UI can switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AskError::Cancelled => "cancelled",
            AskError::Model(automix_llm::LlmError::Cancelled) => "cancelled",
            AskError::Model(_) | AskError::ModelFiles(_) | AskError::Verify(_) => "model",
            AskError::Library(_) | AskError::Embedder(_) | AskError::EmptyLibrary => "library",
            AskError::History(_) => "history",
            AskError::Budget(_) => "budget",
            AskError::Remote(_) | AskError::Pricing(_) => "remote",
            AskError::Router(_) => "router",
        }
    }
}
