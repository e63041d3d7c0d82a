//! The stable identifiers of every failure a front end can receive: the desktop shell sends them
//! to the UI inside `AppError`, the CLI switches on them, the UI's TypeScript type is generated
//! from this enum. Messages are for people; these are for code.

use serde::{Deserialize, Serialize};

/// What went wrong, as a front end switches on it. The serde name (snake_case) is the wire form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The user (or the app, e.g. for a newer question) cancelled the work.
    Cancelled,
    /// The work is already running (a question in this conversation, a measurement, a calibration).
    Busy,
    /// An engine thread stopped unexpectedly (a bug): the message says where.
    Internal,

    // The models.
    /// A model is still loading or is not installed yet.
    ModelNotReady,
    /// A model's files are not installed.
    ModelMissing,
    /// A model's files do not match their checksums (a broken download or a changed file).
    ModelDamaged,
    /// No download source could provide a model's files.
    ModelUnavailable,
    /// No catalog entry has this id.
    UnknownModel,
    /// The question and the passages do not fit the model's context.
    ContextOverflow,
    /// Any other failure of the local model or the verifier.
    Model,
    /// `device` names no known device.
    DeviceUnknown,
    /// This build has no GPU support.
    DeviceNotBuilt,
    /// No GPU was found.
    DeviceNoGpu,
    /// The GPU driver is missing or too old.
    DeviceDriver,
    /// The GPU cannot run this build's kernels.
    DeviceArchitecture,
    /// The GPU failed its self-test or a run.
    DeviceFailed,

    // The library.
    /// The library has no documents yet.
    LibraryEmpty,
    /// A library question chose no documents.
    NoDocumentsChosen,
    /// No document has this id.
    UnknownDocument,
    /// Adding documents was asked with no paths.
    NoPaths,
    /// Any other failure of the library or the embedder.
    Library,

    // The questions and their history.
    /// The question is empty.
    EmptyQuestion,
    /// No question has this id.
    UnknownQuestion,
    /// No conversation has this id.
    UnknownConversation,
    /// The question already has a remote answer.
    AlreadyEscalated,
    /// Every passage the answer read is in a private document, so nothing may be sent.
    OnlyPrivatePassages,
    /// Any other failure of the history database.
    History,

    // The budget and the remote model.
    /// The escalation would exceed the monthly budget.
    BudgetExceeded,
    /// The escalation would exceed the per-answer cap.
    OverAnswerCap,
    /// Budget settings out of range (negative, not a number, too large, no currency).
    BudgetInvalid,
    /// Any other failure of the ledger.
    Budget,
    /// No remote model is configured.
    NoRemote,
    /// The remote call or its pricing failed.
    Remote,
    /// The OS keychain could not store or read the API key.
    Keychain,
    /// An API key was saved empty.
    KeyEmpty,

    // Settings and files.
    /// The settings file cannot be read or written.
    SettingsIo,
    /// The settings file is not valid.
    SettingsCorrupt,
    /// A setting's value (or name) is not accepted.
    SettingsInvalid,
    /// An argument is not valid for the command (e.g. calibrating an embedder).
    InvalidInput,
    /// The router's calibration could not be read, fitted or written.
    Router,
    /// A file of the app's own cannot be read or written.
    Io,
    /// The local API's port is taken by another program.
    PortInUse,
}

impl ErrorCode {
    /// Every code, in declaration order. The UI's generated type is derived from the enum itself,
    /// and src-tauri's TypeScript test checks that it lists exactly these.
    pub const ALL: [ErrorCode; 42] = [
        ErrorCode::Cancelled,
        ErrorCode::Busy,
        ErrorCode::Internal,
        ErrorCode::ModelNotReady,
        ErrorCode::ModelMissing,
        ErrorCode::ModelDamaged,
        ErrorCode::ModelUnavailable,
        ErrorCode::UnknownModel,
        ErrorCode::ContextOverflow,
        ErrorCode::Model,
        ErrorCode::DeviceUnknown,
        ErrorCode::DeviceNotBuilt,
        ErrorCode::DeviceNoGpu,
        ErrorCode::DeviceDriver,
        ErrorCode::DeviceArchitecture,
        ErrorCode::DeviceFailed,
        ErrorCode::LibraryEmpty,
        ErrorCode::NoDocumentsChosen,
        ErrorCode::UnknownDocument,
        ErrorCode::NoPaths,
        ErrorCode::Library,
        ErrorCode::EmptyQuestion,
        ErrorCode::UnknownQuestion,
        ErrorCode::UnknownConversation,
        ErrorCode::AlreadyEscalated,
        ErrorCode::OnlyPrivatePassages,
        ErrorCode::History,
        ErrorCode::BudgetExceeded,
        ErrorCode::OverAnswerCap,
        ErrorCode::BudgetInvalid,
        ErrorCode::Budget,
        ErrorCode::NoRemote,
        ErrorCode::Remote,
        ErrorCode::Keychain,
        ErrorCode::KeyEmpty,
        ErrorCode::SettingsIo,
        ErrorCode::SettingsCorrupt,
        ErrorCode::SettingsInvalid,
        ErrorCode::InvalidInput,
        ErrorCode::Router,
        ErrorCode::Io,
        ErrorCode::PortInUse,
    ];

    /// The wire name (the serde name), e.g. `"model_missing"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
            ErrorCode::ModelNotReady => "model_not_ready",
            ErrorCode::ModelMissing => "model_missing",
            ErrorCode::ModelDamaged => "model_damaged",
            ErrorCode::ModelUnavailable => "model_unavailable",
            ErrorCode::UnknownModel => "unknown_model",
            ErrorCode::ContextOverflow => "context_overflow",
            ErrorCode::Model => "model",
            ErrorCode::DeviceUnknown => "device_unknown",
            ErrorCode::DeviceNotBuilt => "device_not_built",
            ErrorCode::DeviceNoGpu => "device_no_gpu",
            ErrorCode::DeviceDriver => "device_driver",
            ErrorCode::DeviceArchitecture => "device_architecture",
            ErrorCode::DeviceFailed => "device_failed",
            ErrorCode::LibraryEmpty => "library_empty",
            ErrorCode::NoDocumentsChosen => "no_documents_chosen",
            ErrorCode::UnknownDocument => "unknown_document",
            ErrorCode::NoPaths => "no_paths",
            ErrorCode::Library => "library",
            ErrorCode::EmptyQuestion => "empty_question",
            ErrorCode::UnknownQuestion => "unknown_question",
            ErrorCode::UnknownConversation => "unknown_conversation",
            ErrorCode::AlreadyEscalated => "already_escalated",
            ErrorCode::OnlyPrivatePassages => "only_private_passages",
            ErrorCode::History => "history",
            ErrorCode::BudgetExceeded => "budget_exceeded",
            ErrorCode::OverAnswerCap => "over_answer_cap",
            ErrorCode::BudgetInvalid => "budget_invalid",
            ErrorCode::Budget => "budget",
            ErrorCode::NoRemote => "no_remote",
            ErrorCode::Remote => "remote",
            ErrorCode::Keychain => "keychain",
            ErrorCode::KeyEmpty => "key_empty",
            ErrorCode::SettingsIo => "settings_io",
            ErrorCode::SettingsCorrupt => "settings_corrupt",
            ErrorCode::SettingsInvalid => "settings_invalid",
            ErrorCode::InvalidInput => "invalid_input",
            ErrorCode::Router => "router",
            ErrorCode::Io => "io",
            ErrorCode::PortInUse => "port_in_use",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// The set of codes front ends may receive. Changing it is a change of the contract with
    /// the UI and with scripts: update this snapshot on purpose, and the UI's generated types.
    const SNAPSHOT: &str = "cancelled busy internal model_not_ready model_missing model_damaged model_unavailable unknown_model \
context_overflow model device_unknown device_not_built device_no_gpu device_driver device_architecture device_failed library_empty \
no_documents_chosen unknown_document no_paths library empty_question unknown_question unknown_conversation already_escalated only_private_passages history \
budget_exceeded over_answer_cap budget_invalid budget no_remote remote keychain key_empty settings_io settings_corrupt settings_invalid \
invalid_input router io port_in_use";

    #[test]
    fn the_set_of_codes_is_the_snapshot() {
        let names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(names.join(" "), SNAPSHOT);
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len(), "a code is listed twice");
    }

    #[test]
    fn the_wire_name_is_the_serde_name() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{code}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&format!("\"{code}\"")).unwrap(), code);
        }
    }
}
