//! What `Assistant::ask` reports while it works, and how it fails. Shaped for the desktop shell:
//! every event serializes to JSON with a `kind` tag; every error has a stable `code`.

use serde::Serialize;

use automix_docs::Citation;
use automix_router::SignalValues;
use automix_types::{ErrorCode, RouteDecision};

/// Where the final answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum AnswerSource {
    Local,
    Remote,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AskEvent {
    /// The passages the local model reads; `passages[i]` is the text `citations[i]` points at.
    Retrieved {
        citations: Vec<Citation>,
        passages: Vec<String>,
    },
    LocalToken {
        text: String,
    },
    /// Self-verification finished: `v` is the verifier's P(correct); `grounded` whether the
    /// answer's own words (beyond the question's) all occur in the retrieved text.
    Verified {
        v: f64,
        grounded: bool,
    },
    Routed {
        decision: RouteDecision,
        reason: String,
        /// P(local answer correct) given the signals, as the router estimates it.
        local_confidence: f64,
        /// Worst-case cost of escalating, in `currency`.
        estimated_cost: Option<f64>,
        currency: String,
        /// The remote model weighed (none when none is configured).
        remote_model: Option<String>,
        /// Everything the router read about the local answer (boxed: it is the largest event by far).
        signals: Box<SignalValues>,
        /// Whether the router is calibrated for the local model in use; when not, it routes on
        /// another model's calibration, which underrates a stronger model (escalates more).
        calibrated: bool,
    },
    RemoteToken {
        text: String,
    },
    /// The remote call failed after its retries; the local answer stands.
    RemoteFailed {
        message: String,
    },
    Done {
        answer: String,
        source: AnswerSource,
        cost: f64,
        currency: String,
        #[cfg_attr(feature = "typescript", ts(type = "number"))]
        question_id: i64,
    },
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
    History(#[from] automix_history::StoreError),
    #[error(transparent)]
    Budget(#[from] automix_budget::BudgetError),
    #[error(transparent)]
    Remote(#[from] automix_remote::RemoteError),
    #[error(transparent)]
    Pricing(#[from] automix_remote::PricingError),
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
    #[error(transparent)]
    Key(#[from] automix_remote::KeyStoreError),
    #[error("router calibration: {0}")]
    Router(String),
    #[error("the library has no documents yet: add a document first (Documents, or `automix docs add PATH`)")]
    EmptyLibrary,
    #[error("no documents are chosen for this question: choose at least one, or ask about all documents")]
    NoDocumentsChosen,
    #[error("{what} is still loading (or is not installed yet); try again in a moment")]
    ModelNotReady { what: &'static str },
    #[error("no remote model is configured: set an endpoint and a model in the settings")]
    NoRemote,
    #[error("question {0} already has a remote answer")]
    AlreadyEscalated(i64),
    #[error("this answer has {passages} passages; there is no passage {index} to leave out")]
    NoSuchPassage { index: usize, passages: usize },
    #[error("nothing was sent: every passage this answer read is in a private document, which never leaves this device (Documents → Private)")]
    OnlyPrivatePassages,
    #[error(transparent)]
    RoutingTable(#[from] automix_router::TableError),
    #[error("cannot write {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

impl AskError {
    /// A stable identifier the UI can switch on.
    pub fn code(&self) -> ErrorCode {
        use automix_budget::BudgetError;
        use automix_llm::LlmError;
        use automix_models::ModelsError;
        match self {
            AskError::Cancelled | AskError::Model(LlmError::Cancelled) | AskError::Library(automix_docs::DocsError::Cancelled) => ErrorCode::Cancelled,
            AskError::ModelNotReady { .. } => ErrorCode::ModelNotReady,
            AskError::ModelFiles(ModelsError::NotInstalled { .. }) | AskError::Model(LlmError::ModelMissing { .. }) => ErrorCode::ModelMissing,
            AskError::ModelFiles(ModelsError::HashMismatch { .. }) | AskError::Model(LlmError::ModelDamaged { .. }) => ErrorCode::ModelDamaged,
            AskError::ModelFiles(ModelsError::Unavailable { .. }) => ErrorCode::ModelUnavailable,
            AskError::ModelFiles(ModelsError::UnknownModel { .. }) => ErrorCode::UnknownModel,
            AskError::Model(LlmError::ContextOverflow { .. }) => ErrorCode::ContextOverflow,
            AskError::Model(LlmError::Device(error)) => error.code(),
            AskError::Model(_) | AskError::ModelFiles(_) | AskError::Verify(_) => ErrorCode::Model,
            AskError::EmptyLibrary => ErrorCode::LibraryEmpty,
            AskError::NoDocumentsChosen => ErrorCode::NoDocumentsChosen,
            AskError::Library(automix_docs::DocsError::UnknownDocument(_)) => ErrorCode::UnknownDocument,
            AskError::Library(automix_docs::DocsError::UnknownFolder(_)) => ErrorCode::InvalidInput,
            AskError::Library(_) | AskError::Embedder(_) => ErrorCode::Library,
            AskError::History(automix_history::StoreError::NoSuchQuestion(_)) => ErrorCode::UnknownQuestion,
            AskError::History(automix_history::StoreError::NoSuchConversation(_)) => ErrorCode::UnknownConversation,
            AskError::History(_) => ErrorCode::History,
            AskError::Budget(BudgetError::WouldExceed { .. }) => ErrorCode::BudgetExceeded,
            AskError::Budget(BudgetError::OverAnswerCap { .. }) => ErrorCode::OverAnswerCap,
            AskError::Budget(BudgetError::InvalidSettings(_)) => ErrorCode::BudgetInvalid,
            AskError::Budget(_) => ErrorCode::Budget,
            AskError::Remote(_) | AskError::Pricing(_) => ErrorCode::Remote,
            AskError::NoRemote => ErrorCode::NoRemote,
            AskError::AlreadyEscalated(_) => ErrorCode::AlreadyEscalated,
            AskError::OnlyPrivatePassages => ErrorCode::OnlyPrivatePassages,
            AskError::NoSuchPassage { .. } => ErrorCode::InvalidInput,
            AskError::Settings(error) => error.code(),
            AskError::Key(_) => ErrorCode::Keychain,
            AskError::Router(_) => ErrorCode::Router,
            AskError::Io { .. } => ErrorCode::Io,
            AskError::RoutingTable(_) => ErrorCode::Io,
        }
    }
}
