//! Looking back: past answers and this month's spending.

use automix::assistant::{HistoryPage, SpendReport};

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
