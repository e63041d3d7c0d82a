//! The UI's TypeScript declarations of the IPC types, generated from the Rust types with `ts-rs`
//! so the two cannot drift: `ui/src/generated/ipc.ts` must equal what these types declare. After
//! changing one of them, regenerate the file with `make ui-types` and commit it.

use std::path::PathBuf;

use automix::assistant::{
    AnswerSource, AnswerView, AskEvent, CalibrationOrigin, ExportFormat, ExportSelection, HistoryPage, PayloadPreview, PendingApproval, PendingPassage,
    RouterLearning, SpendDay, SpendReport,
};
use automix::calibrate::CalibrationStatus;
use automix::docs::extract::PageProgress;
use automix::docs::{Citation, DocumentFormat, DocumentInfo, DocumentText, FileOutcome, FileReport, FolderInfo, IndexProgress, PageText};
use automix::history::{Conversation, Feedback};
use automix::machine::{Machine, Recommendation};
use automix::models::{ModelKind, PullEvent, Source};
use automix::router::SignalValues;
use automix::settings::{AskBeforeSending, LocalApiSettings, Redaction, RemoteSettings, Settings};
use automix::speed::ModelSpeed;
use automix::types::{ChatMessage, ErrorCode, NetworkPurpose, NetworkRequest, RouteDecision};
use ts_rs::TS;

use crate::commands::budget::Budget;
use crate::commands::documents::IndexEvent;
use crate::commands::models::{AppStatus, CatalogModel, RouterStatus, SpeedStatus};
use crate::commands::settings::KeyStatus;
use crate::error::AppError;
use crate::state::{CalibrationEvent, CalibrationOutcome, CalibrationRun, LocalApiStatus, ModelLoad};

/// Set to regenerate the file instead of comparing it.
const UPDATE_VARIABLE: &str = "AUTOMIX_UPDATE_UI_TYPES";

fn generated_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ui/src/generated/ipc.ts")
}

/// The declarations, in dependency order.
fn declarations() -> String {
    let mut text = String::from(
        "// Generated from the Rust types by src-tauri/src/typescript.rs (ts-rs); do not edit.\n\
         // Regenerate with `make ui-types` after changing one of the types.\n",
    );
    for declaration in [
        ErrorCode::decl(),
        AppError::decl(),
        RouteDecision::decl(),
        Citation::decl(),
        SignalValues::decl(),
        AnswerSource::decl(),
        AskEvent::decl(),
        RouterLearning::decl(),
        // App and models.
        ModelLoad::decl(),
        AppStatus::decl(),
        ModelKind::decl(),
        CalibrationOrigin::decl(),
        CalibrationStatus::decl(),
        CalibrationRun::decl(),
        RouterStatus::decl(),
        CalibrationOutcome::decl(),
        CalibrationEvent::decl(),
        ModelSpeed::decl(),
        SpeedStatus::decl(),
        CatalogModel::decl(),
        Machine::decl(),
        Recommendation::decl(),
        Source::decl(),
        PullEvent::decl(),
        // Documents.
        DocumentFormat::decl(),
        DocumentInfo::decl(),
        FolderInfo::decl(),
        FileOutcome::decl(),
        FileReport::decl(),
        PageProgress::decl(),
        IndexProgress::decl(),
        IndexEvent::decl(),
        PageText::decl(),
        DocumentText::decl(),
        // Chat.
        Conversation::decl(),
        Feedback::decl(),
        AnswerView::decl(),
        ChatMessage::decl(),
        PayloadPreview::decl(),
        PendingPassage::decl(),
        PendingApproval::decl(),
        // History and spending.
        HistoryPage::decl(),
        SpendDay::decl(),
        SpendReport::decl(),
        ExportSelection::decl(),
        ExportFormat::decl(),
        NetworkPurpose::decl(),
        NetworkRequest::decl(),
        // Budget and settings.
        Budget::decl(),
        AskBeforeSending::decl(),
        Redaction::decl(),
        RemoteSettings::decl(),
        LocalApiSettings::decl(),
        Settings::decl(),
        KeyStatus::decl(),
        LocalApiStatus::decl(),
    ] {
        text.push_str("\nexport ");
        text.push_str(&declaration);
        text.push('\n');
    }
    text
}

/// Writes `wanted` to `path` when `AUTOMIX_UPDATE_UI_TYPES` is set, else fails unless the
/// committed file equals it.
pub(crate) fn check_generated(path: &std::path::Path, wanted: &str) {
    if std::env::var_os(UPDATE_VARIABLE).is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, wanted).unwrap();
        return;
    }
    let found = std::fs::read_to_string(path).unwrap_or_default();
    assert!(found == wanted, "{} is out of date with the Rust side: run `make ui-types` and commit it\n--- wanted:\n{wanted}", path.display());
}

#[test]
fn the_ui_types_are_the_rust_types() {
    check_generated(&generated_file(), &declarations());
}

#[test]
fn the_generated_error_codes_are_every_engine_code() {
    // The union is derived from the enum itself, so it names every variant: it must name
    // exactly the codes `ErrorCode::ALL` lists (and the snapshot in automix-types pins).
    let union = ErrorCode::decl();
    let mut generated: Vec<&str> = union.split('"').skip(1).step_by(2).collect();
    let mut listed: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    generated.sort_unstable();
    listed.sort_unstable();
    assert_eq!(generated, listed, "ErrorCode::ALL is missing a variant or lists one twice: {union}");
}
