//! Looking back: past answers, this month's spending, and every request that left the laptop.

use std::path::PathBuf;

use automix::assistant::{ExportFormat, ExportSelection, HistoryPage, SpendReport};
use automix::types::NetworkRequest;

use super::Shared;
use crate::error::{blocking, AppError};

#[tauri::command]
pub async fn history_list(state: Shared<'_>, escalated_only: bool, search: String) -> Result<HistoryPage, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.history_page(escalated_only, &search)?)).await
}

#[tauri::command]
pub async fn spend_report(state: Shared<'_>) -> Result<SpendReport, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.spend_report()?)).await
}

/// Every outbound request the app made (escalation attempts, model downloads), oldest first.
#[tauri::command]
pub async fn network_log(state: Shared<'_>) -> Result<Vec<NetworkRequest>, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.network_log()?)).await
}

/// Exports a conversation, or the history as filtered, to a new Markdown or JSON file in the
/// Downloads folder (`$AUTOMIX_EXPORT_DIR` when set); resolves with its path.
#[tauri::command]
pub async fn history_export(state: Shared<'_>, selection: ExportSelection, format: ExportFormat) -> Result<PathBuf, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.export_to_file(&selection, format)?)).await
}
