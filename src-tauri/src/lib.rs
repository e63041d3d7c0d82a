//! The AutoMix desktop shell: typed commands over the engine facade (`automix::assistant`),
//! grouped by domain, and the background work a window needs (model loading, folder watching).

mod commands;
mod error;
mod state;
#[cfg(test)]
mod typescript;
#[cfg(test)]
mod typescript_commands;

use std::path::Path;
use std::sync::Arc;

use tauri::Manager;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::EnvFilter;

pub use error::AppError;
pub use state::{AppState, ModelLoad};

/// How many daily log files `$AUTOMIX_HOME/logs/` keeps (the oldest goes when a new day starts).
pub const LOG_FILES_KEPT: usize = 7;

/// The app's logger: stderr, and a log file a day under `<home>/logs/` (`automix.log.YYYY-MM-DD`,
/// the last [`LOG_FILES_KEPT`] kept), written on a thread of its own. Returns it with the guard
/// that flushes the file when dropped (keep it while the app runs), or, where the folder cannot be
/// made or written, with the reason the log goes to stderr only.
fn logger(home: &Path, filter: EnvFilter) -> (impl tracing::Subscriber + Send + Sync + 'static, Result<WorkerGuard, String>) {
    let logs = home.join("logs");
    let file = std::fs::create_dir_all(&logs).map_err(|error| error.to_string()).and_then(|()| {
        RollingFileAppender::builder()
            .rotation(Rotation::DAILY)
            .filename_prefix("automix.log")
            .max_log_files(LOG_FILES_KEPT)
            .build(&logs)
            .map_err(|error| error.to_string())
    });
    let (file_layer, guard) = match file {
        Ok(appender) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            (Some(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer)), Ok(guard))
        }
        Err(error) => (None, Err(format!("cannot write the log file under {}: {error}; logging to stderr only", logs.display()))),
    };
    let subscriber = tracing_subscriber::registry().with(filter).with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr)).with(file_layer);
    (subscriber, guard)
}

pub fn run() {
    let filter = EnvFilter::try_from_env("AUTOMIX_LOG").unwrap_or_else(|_| "info".into());
    let (subscriber, guard) = logger(&automix::models::automix_home(), filter);
    if let Err(error) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("no log output: {error}");
    }
    // Dropped when the app exits, so the last lines reach the file.
    let mut guard = match guard {
        Ok(guard) => Some(guard),
        Err(problem) => {
            tracing::warn!("{problem}");
            None
        }
    };
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        // The last window gone is the end of the app. The event loop should end by itself then;
        // a slow or missing exit after the window closed (seen under WebDriver on a loaded
        // 2-core machine) is ended here, and the log says which of the two happened.
        .on_window_event(|window, event| {
            if let tauri::WindowEvent::Destroyed = event {
                let app = window.app_handle();
                if app.webview_windows().is_empty() {
                    tracing::info!("the last window closed");
                    app.exit(0);
                }
            }
        })
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
            commands::models::models_forget_learning,
            commands::models::models_recommend,
            commands::documents::documents_list,
            commands::documents::documents_folders,
            commands::documents::documents_set_private,
            commands::documents::documents_set_folder_private,
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
            commands::chat::chat_pending,
            commands::chat::chat_send_approved,
            commands::chat::chat_keep_local,
            commands::chat::chat_feedback,
            commands::chat::chat_preview_payload,
            commands::history::history_list,
            commands::history::spend_report,
            commands::history::network_log,
            commands::history::history_export,
            commands::budget::budget_get,
            commands::budget::budget_set,
            commands::settings::settings_get,
            commands::settings::settings_set,
            commands::settings::key_status,
            commands::settings::key_set,
            commands::settings::key_clear,
            commands::settings::local_api_status,
            commands::settings::local_api_token,
            commands::settings::local_api_new_token,
        ])
        .build(tauri::generate_context!())
        .expect("the AutoMix window could not start")
        .run(move |_, event| {
            if let tauri::RunEvent::Exit = event {
                tracing::info!("AutoMix is closing");
                drop(guard.take());
            }
        });
}

#[cfg(test)]
mod log_file_tests {
    use super::*;

    fn log_files(home: &Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(home.join("logs")).unwrap().map(|entry| entry.unwrap().path()).collect();
        files.sort();
        files
    }

    #[test]
    fn the_log_goes_to_a_daily_file_under_the_data_folder() {
        let home = tempfile::tempdir().unwrap();
        let (subscriber, guard) = logger(home.path(), EnvFilter::new("info"));
        let guard = guard.expect("the log folder can be made");
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(answer = 42, "a line for the log file");
            tracing::debug!("below the filter");
        });
        // Flushes the writer thread.
        drop(guard);
        let files = log_files(home.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
        let date = name.strip_prefix("automix.log.").unwrap_or_else(|| panic!("named automix.log.YYYY-MM-DD: {name}"));
        assert!(date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2, "{name}");
        let text = std::fs::read_to_string(&files[0]).unwrap();
        assert!(text.contains("INFO") && text.contains("a line for the log file") && text.contains("answer=42"), "{text}");
        assert!(!text.contains("below the filter") && !text.contains('\u{1b}'), "filtered and without colour codes: {text}");
    }

    #[test]
    fn without_a_log_folder_the_app_still_logs_to_stderr() {
        let home = tempfile::tempdir().unwrap();
        // A file where the folder should be: it cannot be made.
        std::fs::write(home.path().join("logs"), "").unwrap();
        let (subscriber, guard) = logger(home.path(), EnvFilter::new("info"));
        let Err(problem) = guard else { panic!("there can be no log file") };
        assert!(problem.contains("logs") && problem.contains("stderr only"), "{problem}");
        tracing::subscriber::with_default(subscriber, || tracing::info!("still logged"));
    }
}
