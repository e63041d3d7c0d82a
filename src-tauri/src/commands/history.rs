//! Looking back: past answers, this month's spending, and every request that left the laptop.

use automix::assistant::{HistoryPage, SpendReport};
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
