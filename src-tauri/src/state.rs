//! What the shell keeps between commands: the engine, where each model's loading stands, the
//! questions in flight (one per conversation), and the background threads (loading, watching).

use automix::types::ErrorCode;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use automix::assistant::{embedder_entry, AskError, Assistant, AssistantPaths};
use automix::calibrate::{calibrate_model, calibration_set, CalibrationFiles};
use automix::collect::CollectProgress;
use automix::docs::{FileOutcome, FolderWatcher};
use automix::remote::CancelFlag;
use automix::settings::{LocalApiSettings, Settings};
use serde::Serialize;
use tauri::{AppHandle, Emitter};

use crate::error::AppError;

/// Emitted when the folder watcher changed the library.
pub const DOCUMENTS_CHANGED_EVENT: &str = "documents-changed";

/// Emitted (with the model's id) when a speed measurement ended, measured or failed.
pub const MODEL_SPEED_EVENT: &str = "model-speed";

/// Emitted (with a `CalibrationEvent`) as a router calibration run moves on and when it ends.
pub const MODEL_CALIBRATION_EVENT: &str = "model-calibration";

/// How often a calibration run paused for a question looks again.
const CALIBRATION_PAUSE_POLL: Duration = Duration::from_millis(250);

/// How long the watcher waits for a burst of file changes to end before syncing.
const WATCH_SETTLE: Duration = Duration::from_millis(800);

/// Where one model's loading stands, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ModelLoad {
    /// The model's files are not installed: the UI offers the download.
    Missing {
        message: String,
    },
    Loading {
        model_id: String,
    },
    Ready {
        model_id: String,
        #[cfg_attr(test, ts(type = "number"))]
        load_ms: u64,
    },
    Failed {
        message: String,
        code: ErrorCode,
    },
}

/// A speed measurement that has not (successfully) ended; measured figures live in the engine's
/// `model-speeds.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SpeedRun {
    Measuring,
    Failed { message: String, code: ErrorCode },
}

/// A router calibration run that is waiting, under way or failed; fitted calibrations live in the
/// engine's files (`automix::calibrate::calibration_status`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CalibrationRun {
    /// Starts after the speed measurement that follows a download.
    Queued,
    /// Putting the calibration texts into the run's own library.
    Indexing {
        done: usize,
        total: usize,
    },
    /// Answering the calibration questions; `paused` while the user's questions run first.
    Answering {
        done: usize,
        total: usize,
        correct: usize,
        paused: bool,
    },
    Failed {
        message: String,
        code: ErrorCode,
    },
}

/// How a calibration run ended, for the UI's toast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CalibrationOutcome {
    Calibrated,
    Cancelled,
    Failed,
}

/// Payload of `MODEL_CALIBRATION_EVENT`: `outcome` is set once, when the run ends.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct CalibrationEvent {
    pub model_id: String,
    pub outcome: Option<CalibrationOutcome>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelLoads {
    pub chat_model: ModelLoad,
    pub embedder: ModelLoad,
}

/// The local API's server and the settings it runs with, or why it failed to start.
#[derive(Default)]
struct LocalApi {
    running: Option<(LocalApiSettings, automix_serve::Server)>,
    error: Option<String>,
}

/// What Settings → Local API shows. The token is not here: it is shown only on request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LocalApiStatus {
    pub running: bool,
    /// What a client is given, e.g. `http://127.0.0.1:11435/v1`.
    pub base_url: Option<String>,
    pub listening_on: Option<String>,
    /// Listening on every network interface, not this computer only.
    pub network: bool,
    /// Why it is not running although switched on (e.g. the port is taken).
    pub error: Option<String>,
}

pub struct AppState {
    /// Shared with the local API's server while it runs.
    pub assistant: Arc<Assistant>,
    /// The local OpenAI-compatible API (Settings → Local API), when switched on.
    local_api: Mutex<LocalApi>,
    loads: Mutex<ModelLoads>,
    /// Cancel flags of the questions in flight, by conversation.
    questions: Mutex<HashMap<i64, CancelFlag>>,
    pub indexing_cancel: CancelFlag,
    pub download_cancel: CancelFlag,
    /// Serializes read-modify-write of the settings file.
    pub settings_lock: Mutex<()>,
    /// Set when the library's folders changed, so the watcher starts over with the new list.
    pub watch_restart: Arc<AtomicBool>,
    /// Held for a whole chat-model load, so loads finish in the order they were asked for.
    chat_load: Mutex<()>,
    /// Speed measurements running or failed, by model id.
    speed_runs: Mutex<HashMap<String, SpeedRun>>,
    /// Held for a whole measurement: two at once would share the cores and halve each other's figures.
    measuring: Mutex<()>,
    /// Calibration runs waiting, under way or failed, by model id; one runs at a time.
    calibration_runs: Mutex<HashMap<String, CalibrationRun>>,
    pub calibration_cancel: CancelFlag,
    /// Stops reading the library ahead when a question comes: the question needs the model.
    read_ahead_cancel: CancelFlag,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Clears a conversation's in-flight mark when the question ends, however it ends.
pub struct QuestionGuard<'a> {
    state: &'a AppState,
    conversation_id: i64,
    pub cancel: CancelFlag,
}

impl Drop for QuestionGuard<'_> {
    fn drop(&mut self) {
        let mut questions = lock(&self.state.questions);
        questions.remove(&self.conversation_id);
        if questions.is_empty() {
            drop(questions);
            return_free_memory();
        }
    }
}

/// Hands the allocator's free pages back to the system once no question runs: a question's
/// buffers (prompt, passages, logits) are freed into glibc's arenas, which otherwise keep them, so
/// the app's resident memory crept up over a long day (tests/e2e/03-long-day.test.mjs).
fn return_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory of glibc's heaps to the system; it is safe to
    // call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

impl AppState {
    /// Opens the engine's stores; cheap, so the window can show at once.
    pub fn open(home: &Path) -> Result<AppState, AppError> {
        let paths = AssistantPaths::from_home(home);
        // A damaged settings file must not keep the window from opening: the defaults apply
        // until the user saves, and the settings view shows the error.
        let settings = Settings::load(home).unwrap_or_else(|error| {
            tracing::warn!(code = %error.code(), "using the default settings: {error}");
            Settings::default()
        });
        let assistant = Assistant::open(&paths, None, automix::assistant::AssistantConfig::from_settings(&settings))?;
        // A broken remote configuration must not keep the app from opening; asking tells why.
        if let Err(error) = assistant.apply_settings(&settings) {
            tracing::warn!(code = %error.code(), "remote model not set up: {error}");
        }
        let loading = |id: &str| ModelLoad::Loading { model_id: id.to_string() };
        let embedder_id = embedder_entry().id;
        Ok(AppState {
            assistant: Arc::new(assistant),
            local_api: Mutex::new(LocalApi::default()),
            loads: Mutex::new(ModelLoads { chat_model: loading(&settings.local_model), embedder: loading(&embedder_id) }),
            questions: Mutex::new(HashMap::new()),
            indexing_cancel: Arc::new(AtomicBool::new(false)),
            download_cancel: Arc::new(AtomicBool::new(false)),
            settings_lock: Mutex::new(()),
            watch_restart: Arc::new(AtomicBool::new(false)),
            chat_load: Mutex::new(()),
            speed_runs: Mutex::new(HashMap::new()),
            measuring: Mutex::new(()),
            calibration_runs: Mutex::new(HashMap::new()),
            calibration_cancel: Arc::new(AtomicBool::new(false)),
            read_ahead_cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Starts, restarts or stops the local API to match `settings`. A failure to start (a port
    /// taken) leaves it off and is kept for the status, as well as returned.
    pub fn apply_local_api(&self, settings: &LocalApiSettings) -> Result<(), AppError> {
        let mut api = lock(&self.local_api);
        if api.running.as_ref().is_some_and(|(running, _)| running == settings) && settings.enabled {
            return Ok(());
        }
        // Dropping the server stops it (and cancels the requests in flight).
        api.running = None;
        api.error = None;
        if !settings.enabled {
            return Ok(());
        }
        let started = automix_serve::stored_token(&self.assistant.paths().local_api_token_store())
            .and_then(|(token, _)| automix_serve::Server::start(self.assistant.clone(), automix_serve::ServeConfig::from_settings(settings, token)));
        match started {
            Ok(server) => {
                api.running = Some((settings.clone(), server));
                Ok(())
            }
            Err(error) => {
                let error = AppError::from(error);
                tracing::warn!(code = %error.code, "the local API did not start: {}", error.message);
                api.error = Some(error.message.clone());
                Err(error)
            }
        }
    }

    /// Whether the local API runs, where, and why not when it failed.
    pub fn local_api_status(&self) -> LocalApiStatus {
        let api = lock(&self.local_api);
        match &api.running {
            Some((settings, server)) => LocalApiStatus {
                running: true,
                base_url: Some(server.base_url()),
                listening_on: Some(server.addr().to_string()),
                network: settings.allow_network,
                error: None,
            },
            None => LocalApiStatus { running: false, base_url: None, listening_on: None, network: false, error: api.error.clone() },
        }
    }

    /// Replaces the access token (clients must be given the new one); a running server restarts
    /// with it.
    pub fn renew_local_api_token(&self) -> Result<(), AppError> {
        let store = self.assistant.paths().local_api_token_store();
        store.save(&automix::remote::ApiKey::new(automix_serve::new_token()))?;
        // Taking the server out drops it, which stops it; it starts again with the new token.
        let running = lock(&self.local_api).running.take().map(|(settings, _server)| settings);
        match running {
            Some(settings) => self.apply_local_api(&settings),
            None => Ok(()),
        }
    }

    pub fn loads(&self) -> ModelLoads {
        lock(&self.loads).clone()
    }

    /// Marks a question in flight for `conversation_id`; a second one is refused until it ends.
    pub fn begin_question(&self, conversation_id: i64) -> Result<QuestionGuard<'_>, AppError> {
        let mut questions = lock(&self.questions);
        if questions.contains_key(&conversation_id) {
            return Err(AppError::new(ErrorCode::Busy, "this conversation is still answering the previous question; wait for it or cancel it"));
        }
        let cancel: CancelFlag = Arc::new(AtomicBool::new(false));
        questions.insert(conversation_id, cancel.clone());
        self.read_ahead_cancel.store(true, Ordering::Relaxed);
        Ok(QuestionGuard { state: self, conversation_id, cancel })
    }

    /// Cancels the question in flight for `conversation_id`, if any.
    pub fn cancel_question(&self, conversation_id: i64) {
        if let Some(cancel) = lock(&self.questions).get(&conversation_id) {
            cancel.store(true, Ordering::Relaxed);
        }
    }

    /// Loads the chat model chosen in the settings, replacing the current one when it is ready.
    pub fn load_chat_model(&self) {
        let _one_at_a_time = lock(&self.chat_load);
        let home = &self.assistant.paths().home;
        let model_id = Settings::load(home).map(|settings| settings.local_model).unwrap_or_else(|_| Settings::default().local_model);
        self.set_chat_load(ModelLoad::Loading { model_id: model_id.clone() });
        let started = Instant::now();
        let outcome = self.assistant.load_chat_model(&model_id);
        self.set_chat_load(load_outcome(model_id, started, outcome));
    }

    pub fn load_embedder(&self) {
        let model_id = embedder_entry().id;
        lock(&self.loads).embedder = ModelLoad::Loading { model_id: model_id.clone() };
        let started = Instant::now();
        let outcome = self.assistant.load_embedder();
        lock(&self.loads).embedder = load_outcome(model_id, started, outcome);
    }

    /// Where the measurement of `model_id` stands, if one runs or the last one failed.
    pub fn speed_run(&self, model_id: &str) -> Option<SpeedRun> {
        lock(&self.speed_runs).get(model_id).cloned()
    }

    /// Marks `model_id` as being measured; refused while it already is.
    pub fn begin_measure(&self, model_id: &str) -> Result<(), AppError> {
        let mut runs = lock(&self.speed_runs);
        if runs.get(model_id) == Some(&SpeedRun::Measuring) {
            return Err(AppError::new(ErrorCode::Busy, format!("{model_id} is already being measured")));
        }
        runs.insert(model_id.to_string(), SpeedRun::Measuring);
        Ok(())
    }

    /// Measures `model_id` (marked with `begin_measure`) with the engine's short run, at the
    /// settings' device and context; a failure is kept for the model table to show.
    pub fn measure(&self, model_id: &str) -> Result<automix::speed::ModelSpeed, AppError> {
        let outcome = (|| -> Result<automix::speed::ModelSpeed, AppError> {
            let _one_at_a_time = lock(&self.measuring);
            let paths = self.assistant.paths();
            let settings = Settings::load(&paths.home)?;
            Ok(automix::speed::measure_chat_model(paths, model_id, settings.device, settings.context_tokens)?)
        })();
        let mut runs = lock(&self.speed_runs);
        match &outcome {
            Ok(speed) => {
                tracing::info!(model = model_id, prefill = speed.prefill_tokens_per_sec, decode = speed.decode_tokens_per_sec, "model speed measured");
                runs.remove(model_id);
            }
            Err(error) => {
                let error: &AppError = error;
                tracing::warn!(model = model_id, code = %error.code, "measuring the model's speed failed: {}", error.message);
                runs.insert(model_id.to_string(), SpeedRun::Failed { message: error.message.clone(), code: error.code });
            }
        }
        outcome
    }

    /// Reads the library's passages into the chat model's prompt cache in the background after
    /// documents were added, so the first question about them (typed meanwhile) reads only its own
    /// tokens (`Assistant::read_ahead`). A question stops it; nothing is lost either way.
    pub fn read_ahead(self: &Arc<Self>) {
        let state = self.clone();
        tauri::async_runtime::spawn_blocking(move || {
            if state.questions_in_flight() {
                return;
            }
            state.read_ahead_cancel.store(false, Ordering::Relaxed);
            let started = Instant::now();
            match state.assistant.read_ahead(&automix::assistant::Scope::Library, &state.read_ahead_cancel) {
                Ok(tokens) => tracing::debug!(tokens, secs = started.elapsed().as_secs_f64(), "read the library ahead of the next question"),
                Err(error) => tracing::debug!(code = %error.code(), "no read-ahead: {error}"),
            }
        });
    }

    /// Where the calibration run of `model_id` stands, if one waits, runs or the last one failed.
    pub fn calibration_run(&self, model_id: &str) -> Option<CalibrationRun> {
        lock(&self.calibration_runs).get(model_id).cloned()
    }

    /// Marks `model_id` as queued for calibration; refused while any run waits or runs (two would
    /// share the cores, and each loads its own copy of a model).
    pub fn begin_calibration(&self, model_id: &str) -> Result<(), AppError> {
        let mut runs = lock(&self.calibration_runs);
        if let Some((other, _)) = runs.iter().find(|(_, run)| !matches!(run, CalibrationRun::Failed { .. })) {
            return Err(AppError::new(ErrorCode::Busy, format!("the router is already being calibrated for {other}; wait for it or cancel it")));
        }
        runs.insert(model_id.to_string(), CalibrationRun::Queued);
        self.calibration_cancel.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Runs the calibration of `model_id` (marked with `begin_calibration`) on the bundled set:
    /// it pauses between items while a question is being answered, so the user never waits for
    /// it; a fitted calibration is picked up at once when `model_id` is the model in use.
    /// `changed` is called after each step.
    pub fn calibrate(&self, model_id: &str, changed: &dyn Fn(Option<CalibrationOutcome>)) -> Result<(), AppError> {
        let set_run = |run: CalibrationRun| {
            lock(&self.calibration_runs).insert(model_id.to_string(), run);
            changed(None);
        };
        set_run(CalibrationRun::Indexing { done: 0, total: 0 });
        let outcome = (|| -> Result<(), AppError> {
            let paths = self.assistant.paths();
            let settings = Settings::load(&paths.home)?;
            let items = calibration_set()?;
            let mut progress = |step: CollectProgress| match step {
                CollectProgress::Indexing { files_done, files_total } => set_run(CalibrationRun::Indexing { done: files_done, total: files_total }),
                CollectProgress::Answering { done, total, correct } => {
                    let mut paused = false;
                    while self.questions_in_flight() && !self.calibration_cancel.load(Ordering::Relaxed) {
                        if !paused {
                            paused = true;
                            set_run(CalibrationRun::Answering { done, total, correct, paused });
                        }
                        std::thread::sleep(CALIBRATION_PAUSE_POLL);
                    }
                    set_run(CalibrationRun::Answering { done, total, correct, paused: false });
                }
            };
            let calibration = calibrate_model(&paths.home, &settings, model_id, &items, &mut progress, &self.calibration_cancel)?;
            tracing::info!(model = model_id, rows = calibration.rows, local_accuracy = calibration.slm_accuracy(), "router calibrated");
            if self.assistant.reload_calibration(model_id)? {
                tracing::info!(model = model_id, "the router now routes on the new calibration");
            }
            Ok(())
        })();
        let ended = match &outcome {
            Ok(()) => {
                lock(&self.calibration_runs).remove(model_id);
                CalibrationOutcome::Calibrated
            }
            Err(error) if error.code == ErrorCode::Cancelled => {
                tracing::info!(model = model_id, "router calibration cancelled; its answers are kept for the next run");
                lock(&self.calibration_runs).remove(model_id);
                CalibrationOutcome::Cancelled
            }
            Err(error) => {
                tracing::warn!(model = model_id, code = %error.code, "router calibration failed: {}", error.message);
                lock(&self.calibration_runs).insert(model_id.to_string(), CalibrationRun::Failed { message: error.message.clone(), code: error.code });
                CalibrationOutcome::Failed
            }
        };
        changed(Some(ended));
        outcome
    }

    fn questions_in_flight(&self) -> bool {
        !lock(&self.questions).is_empty()
    }

    fn set_chat_load(&self, load: ModelLoad) {
        lock(&self.loads).chat_model = load;
    }

    fn chat_ready(&self) -> bool {
        matches!(lock(&self.loads).chat_model, ModelLoad::Ready { .. })
    }
}

fn load_outcome(model_id: String, started: Instant, outcome: Result<(), AskError>) -> ModelLoad {
    match outcome {
        Ok(()) => {
            let load_ms = started.elapsed().as_millis() as u64;
            tracing::info!(model = model_id, load_ms, "model ready");
            ModelLoad::Ready { model_id, load_ms }
        }
        Err(error) if error.code() == ErrorCode::ModelMissing => ModelLoad::Missing { message: error.to_string() },
        Err(error) => {
            tracing::error!(model = model_id, code = %error.code(), "model failed to load: {error}");
            ModelLoad::Failed { message: error.to_string(), code: error.code() }
        }
    }
}

/// Loads the models (embedder first: documents need it, and it takes a fraction of a second), then
/// keeps the library's folders in step with the disk for as long as the app runs.
pub fn start_background(state: Arc<AppState>, app: AppHandle) {
    // Before the models: a request that comes while they load is told to retry (HTTP 503).
    if let Ok(settings) = Settings::load(&state.assistant.paths().home) {
        let _ = state.apply_local_api(&settings.local_api);
    }
    let loader = state.clone();
    let app_for_loader = app.clone();
    std::thread::Builder::new()
        .name("automix-model-loader".into())
        .spawn(move || {
            loader.load_embedder();
            loader.load_chat_model();
            if !loader.chat_ready() {
                tracing::warn!("the chat model is not ready; questions wait for a download or a fix");
            }
            resume_interrupted_calibrations(&loader, &app_for_loader);
        })
        .expect("a thread can be started");
    std::thread::Builder::new().name("automix-folder-watcher".into()).spawn(move || watch_folders(&state, &app)).expect("a thread can be started");
}

/// Runs the calibration of `model_id` (marked with `AppState::begin_calibration`), telling the UI
/// as it moves on and when it ends.
pub fn calibrate_and_tell(state: &AppState, app: &AppHandle, model_id: &str) -> Result<(), AppError> {
    state.calibrate(model_id, &|outcome| {
        let _ = app.emit(MODEL_CALIBRATION_EVENT, CalibrationEvent { model_id: model_id.to_string(), outcome });
    })
}

/// A calibration run the app was closed (or killed) in the middle of goes on where it stopped.
fn resume_interrupted_calibrations(state: &AppState, app: &AppHandle) {
    let home = &state.assistant.paths().home;
    for entry in automix::models::Catalog::bundled().models.iter().filter(|entry| entry.kind == automix::models::ModelKind::Chat) {
        if CalibrationFiles::new(home, &entry.id).interrupted() && state.begin_calibration(&entry.id).is_ok() {
            tracing::info!(model = entry.id, "resuming the router calibration the app was closed in the middle of");
            let _ = calibrate_and_tell(state, app, &entry.id);
        }
    }
}

/// Syncs the library's folders when they change on disk, telling the UI after each sync that
/// changed something. Each (re)start of the watch begins with a sync, which catches what changed
/// while the app was closed or between a folder being added and its watch beginning.
fn watch_folders(state: &AppState, app: &AppHandle) {
    let sync = || {
        let Ok(embedder) = state.assistant.embedder() else { return };
        let mut library = state.assistant.library();
        // Cancel in the Documents view stops a watcher's sync too; a new sync starts afresh.
        state.indexing_cancel.store(false, Ordering::Relaxed);
        match library.sync(&embedder, &state.assistant.index_options(), &mut |_| {}, &state.indexing_cancel) {
            Ok(reports) if reports.iter().any(|report| !matches!(report.outcome, FileOutcome::Unchanged { .. })) => {
                drop(library);
                let _ = app.emit(DOCUMENTS_CHANGED_EVENT, ());
            }
            Ok(_) => {}
            Err(automix::docs::DocsError::Cancelled) => tracing::info!("a folder sync was cancelled"),
            Err(error) => tracing::warn!("syncing the library's folders failed: {error}"),
        }
    };
    loop {
        state.watch_restart.store(false, Ordering::Relaxed);
        let folders: Vec<PathBuf> = state.assistant.library_folders().unwrap_or_default().into_iter().map(|folder| PathBuf::from(folder.path)).collect();
        if folders.is_empty() || state.assistant.embedder().is_err() {
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        let watcher = match FolderWatcher::new(&folders) {
            Ok(watcher) => watcher,
            Err(error) => {
                tracing::warn!("cannot watch the library's folders: {error}");
                std::thread::sleep(Duration::from_secs(5));
                continue;
            }
        };
        sync();
        while watcher.next_changes(WATCH_SETTLE, &state.watch_restart).is_some() {
            sync();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_question_per_conversation_and_cancel_reaches_it() {
        let home = tempfile::tempdir().unwrap();
        let state = AppState::open(home.path()).unwrap();
        let first = state.begin_question(1).unwrap();
        assert_eq!(state.begin_question(1).err().map(|e| e.code), Some(ErrorCode::Busy));
        let other = state.begin_question(2).expect("another conversation may ask meanwhile");
        state.cancel_question(1);
        assert!(first.cancel.load(Ordering::Relaxed));
        assert!(!other.cancel.load(Ordering::Relaxed));
        drop(first);
        let again = state.begin_question(1).expect("free again once the question ended");
        assert!(!again.cancel.load(Ordering::Relaxed), "a new question starts uncancelled");
    }

    #[test]
    fn a_missing_model_is_reported_as_missing_not_failed() {
        let home = tempfile::tempdir().unwrap();
        let state = AppState::open(home.path()).unwrap();
        state.load_embedder();
        state.load_chat_model();
        let loads = state.loads();
        assert!(matches!(loads.embedder, ModelLoad::Missing { .. }), "{loads:?}");
        match loads.chat_model {
            ModelLoad::Missing { message } => assert!(message.contains("smollm2-135m-instruct") && message.contains("settings"), "{message}"),
            other => panic!("expected missing, got {other:?}"),
        }
        let json = serde_json::to_value(state.loads().embedder).unwrap();
        assert_eq!(json["state"], "missing");
    }

    #[test]
    fn a_measurement_runs_once_at_a_time_and_a_failure_is_kept_with_its_reason() {
        let home = tempfile::tempdir().unwrap();
        let state = AppState::open(home.path()).unwrap();
        assert_eq!(state.speed_run("smollm2-135m-instruct"), None);
        state.begin_measure("smollm2-135m-instruct").unwrap();
        assert_eq!(state.speed_run("smollm2-135m-instruct"), Some(SpeedRun::Measuring));
        assert_eq!(state.begin_measure("smollm2-135m-instruct").err().map(|e| e.code), Some(ErrorCode::Busy));
        // Not installed in this home: a clear error, kept for the table, and no crash.
        let error = state.measure("smollm2-135m-instruct").unwrap_err();
        assert_eq!(error.code, ErrorCode::ModelMissing);
        match state.speed_run("smollm2-135m-instruct") {
            Some(SpeedRun::Failed { message, code }) => assert!(code == ErrorCode::ModelMissing && message.contains("smollm2-135m-instruct"), "{message}"),
            other => panic!("expected a failure, got {other:?}"),
        }
        let json = serde_json::to_value(state.speed_run("smollm2-135m-instruct")).unwrap();
        assert_eq!(json["state"], "failed");
        state.begin_measure("smollm2-135m-instruct").expect("a failed model can be measured again");
        let error = state.measure("all-minilm-l6-v2").unwrap_err();
        assert!(error.message.contains("not a chat model"), "{error}");
    }

    /// A calibration run on the real SmolLM2 (installed by `make test`): it waits while a question
    /// is in flight, goes on when the question ends, and a cancel keeps its answers and leaves the
    /// model on its bundled calibration.
    #[test]
    fn a_calibration_gives_way_to_questions_and_a_cancel_keeps_its_answers() {
        use automix::assistant::CalibrationOrigin;
        use automix::calibrate::{calibration_status, CalibrationStatus};
        const MODEL: &str = "smollm2-135m-instruct";
        let home = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(automix::models::ModelStore::from_env().root(), home.path().join("models")).unwrap();
        let state = AppState::open(home.path()).unwrap();
        state.begin_calibration(MODEL).unwrap();
        assert_eq!(state.calibration_run(MODEL), Some(CalibrationRun::Queued));
        assert_eq!(state.begin_calibration("qwen2.5-coder-0.5b-instruct").err().map(|e| e.code), Some(ErrorCode::Busy), "one run at a time");

        let question = state.begin_question(1).unwrap();
        let outcomes = Mutex::new(Vec::new());
        let wait_for = |what: &str, ready: &dyn Fn(&CalibrationRun) -> bool| {
            let deadline = Instant::now() + Duration::from_secs(300);
            loop {
                match state.calibration_run(MODEL) {
                    Some(run) if ready(&run) => return run,
                    _ if Instant::now() > deadline => panic!("timed out waiting for {what}: {:?}", state.calibration_run(MODEL)),
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        };
        std::thread::scope(|scope| {
            let run = scope.spawn(|| state.calibrate(MODEL, &|outcome| lock(&outcomes).push(outcome)));
            let paused = wait_for("the run to pause for the question", &|run| matches!(run, CalibrationRun::Answering { paused: true, .. }));
            assert!(matches!(paused, CalibrationRun::Answering { done: 0, total, .. } if total >= 200), "{paused:?}");
            std::thread::sleep(Duration::from_millis(600));
            assert_eq!(state.calibration_run(MODEL), Some(paused), "nothing is answered while the question runs");
            assert!(CalibrationFiles::new(home.path(), MODEL).interrupted(), "marked as under way");
            drop(question);
            wait_for("an answer after the question ended", &|run| matches!(run, CalibrationRun::Answering { done: 1.., paused: false, .. }));
            state.calibration_cancel.store(true, Ordering::Relaxed);
            assert_eq!(run.join().unwrap().unwrap_err().code, ErrorCode::Cancelled);
        });
        assert_eq!(lock(&outcomes).last().copied().flatten(), Some(CalibrationOutcome::Cancelled));
        assert_eq!(state.calibration_run(MODEL), None);
        let files = CalibrationFiles::new(home.path(), MODEL);
        assert!(files.answered() >= 1, "the answers before the cancel are kept");
        assert!(!files.interrupted(), "a cancelled run is not resumed at the next start");
        match calibration_status(home.path(), MODEL).unwrap() {
            CalibrationStatus::Calibrated { origin, .. } => assert_eq!(origin, CalibrationOrigin::Bundled, "nothing fitted from a cancelled run"),
            other => panic!("{other:?}"),
        }
        state.begin_calibration(MODEL).expect("a new run may start once the last one ended");
    }
}
