//! The document library: add files and folders with progress, remove, re-sync, cancel.

use automix::types::ErrorCode;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use automix::docs::{DocumentInfo, DocumentText, FileReport, FolderInfo, IndexProgress};
use serde::Serialize;
use tauri::ipc::Channel;

use super::Shared;
use crate::error::{blocking, AppError};

/// Progress of an indexing run, streamed to the UI.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexEvent {
    Progress(IndexProgress),
}

#[tauri::command]
pub async fn documents_list(state: Shared<'_>) -> Result<Vec<DocumentInfo>, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.documents()?)).await
}

/// The text the library read from a document, page by page, for the document pane.
#[tauri::command]
pub async fn documents_text(state: Shared<'_>, id: i64) -> Result<DocumentText, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.document_text(&id.to_string())?)).await
}

/// The library's folders with their privacy.
#[tauri::command]
pub async fn documents_folders(state: Shared<'_>) -> Result<Vec<FolderInfo>, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.library_folders()?)).await
}

/// Marks a document "never leaves this device" (or lifts its own mark; a private folder still
/// covers it). Returns the document as it now is.
#[tauri::command]
pub async fn documents_set_private(state: Shared<'_>, id: i64, is_private: bool) -> Result<DocumentInfo, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.set_document_private(&id.to_string(), is_private)?)).await
}

/// Marks a library folder private (every document in it, now and later) or not; rejects with
/// code invalid_input for a path that is not a library folder.
#[tauri::command]
pub async fn documents_set_folder_private(state: Shared<'_>, path: PathBuf, is_private: bool) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.set_folder_private(&path, is_private)?)).await
}

/// Indexes files and folders (folders are remembered and watched). A file that cannot be read
/// gets a failed report with its reason; the others are indexed all the same.
#[tauri::command]
pub async fn documents_add(state: Shared<'_>, paths: Vec<PathBuf>, on_progress: Channel<IndexEvent>) -> Result<Vec<FileReport>, AppError> {
    if paths.is_empty() {
        return Err(AppError::new(ErrorCode::NoPaths, "choose at least one file or folder"));
    }
    let state = state.inner().clone();
    blocking(move || {
        let embedder = state.assistant.embedder()?;
        let mut library = state.assistant.library();
        // Reset only once the library is ours: a cancel meant for the run before must not be lost.
        state.indexing_cancel.store(false, Ordering::Relaxed);
        let reports = library.add_paths(
            &embedder,
            &paths,
            &state.assistant.index_options(),
            &mut |progress| drop(on_progress.send(IndexEvent::Progress(progress.clone()))),
            &state.indexing_cancel,
        )?;
        drop(library);
        state.watch_restart.store(true, Ordering::Relaxed);
        state.read_ahead();
        Ok(reports)
    })
    .await
}

#[tauri::command]
pub async fn documents_remove(state: Shared<'_>, id: i64) -> Result<DocumentInfo, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.library().remove(&id.to_string())?)).await
}

/// Brings the library in line with its folders now: new, changed and deleted files.
#[tauri::command]
pub async fn documents_sync(state: Shared<'_>, on_progress: Channel<IndexEvent>) -> Result<Vec<FileReport>, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let embedder = state.assistant.embedder()?;
        let mut library = state.assistant.library();
        state.indexing_cancel.store(false, Ordering::Relaxed);
        let progress = &mut |progress: &IndexProgress| drop(on_progress.send(IndexEvent::Progress(progress.clone())));
        Ok(library.sync(&embedder, &state.assistant.index_options(), progress, &state.indexing_cancel)?)
    })
    .await
}

/// Stops the indexing run in progress; files already indexed stay.
#[tauri::command]
pub fn documents_cancel(state: Shared<'_>) {
    state.indexing_cancel.store(true, Ordering::Relaxed);
}
