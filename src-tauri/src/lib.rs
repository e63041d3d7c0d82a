//! The AutoMix desktop shell: typed commands over the engine facade (`automix::assistant`),
//! grouped by domain, and the background work a window needs (model loading, folder watching).

mod commands;
mod error;
mod state;
#[cfg(test)]
mod typescript;

use std::sync::Arc;

use tauri::Manager;

pub use error::AppError;
pub use state::{AppState, ModelLoad};

pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("AUTOMIX_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .setup(|app| {
            let state = Arc::new(AppState::open(&automix::models::automix_home())?);
            app.manage(state.clone());
            // The window shows at once; the models load and the folders are watched behind it.
            state::start_background(state, app.handle().clone());
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![
            commands::models::app_status,
            commands::models::models_list,
            commands::models::models_download,
            commands::models::models_cancel_download,
            commands::models::models_activate,
            commands::models::models_measure,
            commands::models::models_calibrate,
            commands::models::models_cancel_calibration,
            commands::models::models_recommend,
            commands::documents::documents_list,
            commands::documents::documents_folders,
            commands::documents::documents_text,
            commands::documents::documents_add,
            commands::documents::documents_remove,
            commands::documents::documents_sync,
            commands::documents::documents_cancel,
            commands::chat::chat_conversations,
            commands::chat::chat_conversation,
            commands::chat::chat_new_conversation,
            commands::chat::chat_ask,
            commands::chat::chat_cancel,
            commands::chat::chat_escalate,
            commands::chat::chat_feedback,
            commands::chat::chat_preview_payload,
            commands::history::history_list,
            commands::history::spend_report,
            commands::budget::budget_get,
            commands::budget::budget_set,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::settings::key_status,
            commands::settings::key_set,
            commands::settings::key_clear,
        ])
        .run(tauri::generate_context!())
        .expect("the AutoMix window could not start");
}
