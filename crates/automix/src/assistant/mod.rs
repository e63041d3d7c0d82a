//! The engine facade the desktop shell and the CLI hold: one question's journey
//! (retrieve → answer locally → self-verify → route → (escalate) → record) and everything around it
//! (settings, models, documents, history, budget).
//!
//! Opening is cheap and never needs the models: history, budget, settings and the document list
//! work at once, and the models load afterwards (`load_embedder`, `load_chat_model`), so a GUI can
//! show its window first.

mod ask;
mod events;
mod export;
mod observe;
mod privacy;
mod redaction;
mod report;
mod routing;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use automix_budget::{CostPreference, Ledger};
use automix_docs::{DocumentInfo, DocumentText, Embedder, FolderInfo, Library};
use automix_history::{Feedback, History};
use automix_llm::{KvCache, LocalModel, PromptCache};
use automix_models::{Catalog, CatalogEntry, ModelKind, ModelStore};
use automix_qa::agrees_with;
use automix_remote::{ApiKey, BlockingRemoteClient, KeyStore, ModelPrice, PriceTable, RemoteClient};

pub use ask::AskOptions;
pub use automix_types::RouteDecision;
pub use events::{AnswerSource, AskError, AskEvent};
pub use export::{badge, export_dir, ExportFormat, ExportSelection};
pub use observe::Observation;
pub use privacy::{PrivateDocuments, Withheld};
pub use redaction::Masked;
pub use report::{AnswerView, HistoryPage, PayloadPreview, PendingApproval, PendingPassage, SpendDay, SpendReport};
pub use routing::{calibration_path, model_calibration, CalibrationOrigin, RoutePlan, Router, RouterLearning, CALIBRATIONS_DIR};

use crate::prompts::shared_prefix;
use crate::settings::{AskBeforeSending, Redaction, Settings};
use crate::verify::VerifyMode;

/// What a question may be answered from.
#[derive(Debug, Clone)]
pub enum Scope {
    /// The whole document library.
    Library,
    /// Only these documents of the library.
    Documents(Vec<i64>),
    /// One given text (e.g. `automix ask --context FILE`).
    Text { source: String, text: String },
}

/// The remote model the user configured.
pub struct RemoteModel {
    pub client: BlockingRemoteClient,
    pub model: String,
    pub price: ModelPrice,
    /// Prior probability that its answers are right.
    pub accuracy: f64,
    pub max_tokens: u32,
}

impl RemoteModel {
    /// The remote model the settings describe, with the key from the keychain; `None` when no
    /// remote model is configured.
    pub fn from_settings(settings: &Settings, keys: &KeyStore) -> Result<Option<RemoteModel>, AskError> {
        if !settings.has_remote() {
            return Ok(None);
        }
        RemoteModel::with_key(settings, keys.load()?.map(|(key, _)| key)).map(Some)
    }

    /// The remote model the settings describe, sending `key` (none for a local server).
    pub fn with_key(settings: &Settings, key: Option<ApiKey>) -> Result<RemoteModel, AskError> {
        let remote = &settings.remote;
        let connection = automix_remote::RemoteSettings::new(remote.endpoint.trim(), remote.model.trim());
        let price = match settings.price_override() {
            Some(price) => price,
            None => connection.resolve_price(&PriceTable::bundled())?,
        };
        let client = BlockingRemoteClient::new(RemoteClient::new(connection, key)?)?;
        Ok(RemoteModel { client, model: remote.model.trim().to_string(), price, accuracy: remote.accuracy, max_tokens: remote.max_tokens })
    }
}

#[derive(Debug, Clone)]
pub struct AssistantConfig {
    /// Tokens of retrieved text (and earlier turns) given to the local model.
    pub context_budget_tokens: usize,
    pub max_answer_tokens: usize,
    pub verify_mode: VerifyMode,
    pub cost_preference: CostPreference,
    /// Keep every answer local.
    pub never_escalate: bool,
    /// Whether a router-decided escalation waits for the user, and above which worst case.
    pub ask_before_sending: AskBeforeSending,
    pub ask_above: f64,
    /// What is masked in every payload before it is sent.
    pub redaction: Redaction,
    /// Where the chat model and the embedder run.
    pub device: automix_llm::DeviceChoice,
}

impl Default for AssistantConfig {
    fn default() -> Self {
        Self::from_settings(&Settings::default())
    }
}

impl AssistantConfig {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            context_budget_tokens: settings.context_tokens,
            max_answer_tokens: 96,
            verify_mode: VerifyMode::Logit,
            cost_preference: settings.cost_preference(),
            never_escalate: settings.never_escalate,
            ask_before_sending: settings.ask_before_sending,
            ask_above: settings.ask_above,
            redaction: settings.redaction.clone(),
            device: settings.device,
        }
    }
}

/// File under `$AUTOMIX_HOME` holding the time (ms) before which answers do not teach the router.
pub const LEARNING_SINCE_FILE: &str = "router-learning-since";

/// Where the assistant keeps its files.
#[derive(Debug, Clone)]
pub struct AssistantPaths {
    pub home: PathBuf,
    pub library: PathBuf,
    /// History and budget ledger share one SQLite file.
    pub history: PathBuf,
    /// Answers asked before the time (ms) in this file do not teach the router (`automix router-forget`).
    pub learning_since: PathBuf,
}

impl AssistantPaths {
    /// The standard layout under `$AUTOMIX_HOME`.
    pub fn from_home(home: &Path) -> Self {
        Self {
            home: home.to_path_buf(),
            library: home.join(automix_docs::LIBRARY_FILE_NAME),
            history: home.join("history.sqlite"),
            learning_since: home.join(LEARNING_SINCE_FILE),
        }
    }

    pub fn models(&self) -> ModelStore {
        ModelStore::new(self.home.join("models"))
    }

    /// The API key's store: the OS keychain, else a private file in the home folder.
    pub fn key_store(&self) -> KeyStore {
        KeyStore::new("remote-api-key", self.home.join("api-key"))
    }

    /// Where the local API's access token is kept (the OS keychain, else a private file).
    pub fn local_api_token_store(&self) -> KeyStore {
        KeyStore::new("local-api-token", self.home.join("local-api-token"))
    }

    /// The installed file of a catalog chat model, checked to exist.
    pub fn chat_model_file(&self, id: &str) -> Result<PathBuf, AskError> {
        Ok(self.models().locate(Catalog::bundled().get(id)?)?)
    }

    /// The folder of the installed default embedder, checked to exist.
    pub fn embedder_dir(&self) -> Result<PathBuf, AskError> {
        let models = self.models();
        let embedder = embedder_entry();
        models.locate(&embedder)?;
        Ok(models.model_dir(&embedder))
    }
}

/// The catalog entry of the document embedder the library is built with.
pub fn embedder_entry() -> CatalogEntry {
    Catalog::bundled().default_for(ModelKind::Embedding).clone()
}

pub struct Assistant {
    paths: AssistantPaths,
    model: RwLock<Option<Arc<LocalModel>>>,
    /// The catalog id of `model`.
    chat_model_id: RwLock<Option<String>>,
    embedder: RwLock<Option<Arc<Embedder>>>,
    /// Questions search through this connection …
    search: Mutex<Library>,
    /// … and indexing writes through this one, so a long indexing run never holds up a question;
    /// the search side sees new chunks through SQLite's data version.
    index: Mutex<Library>,
    history: History,
    ledger: Ledger,
    router: RwLock<Router>,
    remote: RwLock<Option<Arc<RemoteModel>>>,
    config: RwLock<AssistantConfig>,
    /// Kept between questions so the instructions are computed once, and a question about the
    /// document of the one before continues from its passages.
    cache: Mutex<PromptCache>,
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `Err(Cancelled)` once the user has cancelled: checked between the stages of a question.
fn ensure_not_cancelled(cancel: &automix_remote::CancelFlag) -> Result<(), AskError> {
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        Err(AskError::Cancelled)
    } else {
        Ok(())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Assistant {
    /// Opens the stores (history, budget, library) and the router; the models load separately.
    pub fn open(paths: &AssistantPaths, remote: Option<RemoteModel>, config: AssistantConfig) -> Result<Self, AskError> {
        let history = History::open(&paths.history)?;
        let mut router = Router::bundled()?;
        router.learn(&judged_local_answers(&history, learning_since(paths))?);
        Ok(Self {
            paths: paths.clone(),
            model: RwLock::new(None),
            chat_model_id: RwLock::new(None),
            embedder: RwLock::new(None),
            search: Mutex::new(Library::open(&paths.library)?),
            index: Mutex::new(Library::open(&paths.library)?),
            history,
            ledger: Ledger::open(&paths.history)?,
            router: RwLock::new(router),
            remote: RwLock::new(remote.map(Arc::new)),
            config: RwLock::new(config),
            cache: Mutex::new(PromptCache::default()),
        })
    }

    /// Opens with the settings file's configuration and remote model, then loads both models:
    /// what the command line needs before answering.
    pub fn open_from_settings(paths: &AssistantPaths, settings: &Settings) -> Result<Self, AskError> {
        let remote = RemoteModel::from_settings(settings, &paths.key_store())?;
        let assistant = Self::open(paths, remote, AssistantConfig::from_settings(settings))?;
        assistant.load_embedder()?;
        assistant.load_chat_model(&settings.local_model)?;
        Ok(assistant)
    }

    pub fn paths(&self) -> &AssistantPaths {
        &self.paths
    }

    /// Loads (or replaces) the catalog chat model `model_id` and the router calibrated for it;
    /// questions asked meanwhile use the previous one.
    pub fn load_chat_model(&self, model_id: &str) -> Result<(), AskError> {
        let device = automix_llm::device::select(read(&self.config).device).map_err(automix_llm::LlmError::from)?;
        let model = LocalModel::load(&self.paths.chat_model_file(model_id)?, &device)?;
        let router = self.router_for(model_id)?;
        // The instructions every question starts with are computed now, not
        // on the first question.
        let mut warm = KvCache::new();
        let prefix = model.chat_prompt(&shared_prefix(), false)?;
        model.prefill(&model.tokenizer().encode(&prefix)?, &mut warm, &std::sync::atomic::AtomicBool::new(false))?;
        // The cached prefix holds the old model's keys and values: the swap happens under the
        // cache's lock, so no question can pair the new model with the old cache.
        let mut cache = lock(&self.cache);
        *cache = PromptCache::new(warm);
        *write(&self.model) = Some(Arc::new(model));
        *write(&self.router) = router;
        *write(&self.chat_model_id) = Some(model_id.to_string());
        Ok(())
    }

    /// The router for `model_id` with what use has taught it so far.
    fn router_for(&self, model_id: &str) -> Result<Router, AskError> {
        let mut router = Router::for_model(model_id, &self.paths.home)?;
        router.learn(&judged_local_answers(&self.history, learning_since(&self.paths))?);
        Ok(router)
    }

    /// Picks up a calibration just fitted for `model_id` (e.g. by the app's background run after a
    /// download) when that is the chat model in use; returns whether the router changed.
    pub fn reload_calibration(&self, model_id: &str) -> Result<bool, AskError> {
        if read(&self.chat_model_id).as_deref() != Some(model_id) {
            return Ok(false);
        }
        let router = self.router_for(model_id)?;
        *write(&self.router) = router;
        Ok(true)
    }

    /// Whether the router is calibrated for the chat model in use.
    pub fn router_calibrated(&self) -> bool {
        read(&self.router).calibrated()
    }

    pub fn load_embedder(&self) -> Result<(), AskError> {
        let device = automix_llm::device::select(read(&self.config).device).map_err(automix_llm::LlmError::from)?;
        let embedder = Embedder::load(&self.paths.embedder_dir()?, &device)?;
        *write(&self.embedder) = Some(Arc::new(embedder));
        Ok(())
    }

    /// The chat model, once loaded.
    pub fn model(&self) -> Result<Arc<LocalModel>, AskError> {
        read(&self.model).clone().ok_or(AskError::ModelNotReady { what: "the local chat model" })
    }

    /// The document embedder, once loaded.
    pub fn embedder(&self) -> Result<Arc<Embedder>, AskError> {
        read(&self.embedder).clone().ok_or(AskError::ModelNotReady { what: "the document embedder" })
    }

    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// How documents are indexed: the settings' (OCR languages), the defaults where the
    /// settings file cannot be read.
    pub fn index_options(&self) -> automix_docs::IndexOptions {
        crate::settings::Settings::load(&self.paths().home).map(|settings| settings.index_options()).unwrap_or_default()
    }

    /// The library's writing side: adding, syncing and removing documents. Held for a whole
    /// indexing run; listings go through the reading side and never wait for it.
    pub fn library(&self) -> MutexGuard<'_, Library> {
        lock(&self.index)
    }

    /// The documents of the library, read without waiting for an indexing run.
    pub fn documents(&self) -> Result<Vec<DocumentInfo>, AskError> {
        Ok(lock(&self.search).documents()?)
    }

    /// The text the library holds for a document (by id or path), page by page with labels: what
    /// was read, for a user to check.
    pub fn document_text(&self, id_or_path: &str) -> Result<DocumentText, AskError> {
        Ok(lock(&self.search).document_text(id_or_path)?)
    }

    /// The folders the library keeps in step with the disk, with their privacy.
    pub fn library_folders(&self) -> Result<Vec<FolderInfo>, AskError> {
        Ok(lock(&self.search).folder_list()?)
    }

    /// The documents whose passages never leave this device, as the library says now.
    pub fn private_documents(&self) -> Result<PrivateDocuments, AskError> {
        Ok(PrivateDocuments::new(lock(&self.search).private_document_ids()?))
    }

    /// Marks a document (by id or path) "never leaves this device", or lifts its own mark (a
    /// private folder still covers it). Takes effect for the next payload built.
    pub fn set_document_private(&self, id_or_path: &str, private: bool) -> Result<DocumentInfo, AskError> {
        Ok(lock(&self.search).set_document_private(id_or_path, private)?)
    }

    /// Marks a library folder private (every document in it, now and later) or not.
    pub fn set_folder_private(&self, folder: &Path, private: bool) -> Result<(), AskError> {
        if lock(&self.search).set_folder_private(folder, private)? {
            Ok(())
        } else {
            Err(AskError::Library(automix_docs::DocsError::UnknownFolder(folder.to_path_buf())))
        }
    }

    /// Replaces the remote model (or removes it) without reopening.
    pub fn set_remote(&self, remote: Option<RemoteModel>) {
        *write(&self.remote) = remote.map(Arc::new);
    }

    pub fn remote_model_name(&self) -> Option<String> {
        read(&self.remote).as_ref().map(|remote| remote.model.clone())
    }

    pub fn set_config(&self, config: AssistantConfig) {
        *write(&self.config) = config;
    }

    pub fn config(&self) -> AssistantConfig {
        read(&self.config).clone()
    }

    /// Applies saved settings: configuration and remote model (the chat model is the caller's
    /// to reload, as that takes seconds).
    /// A remote model that cannot be set up (an unknown price, say) is removed, so that no
    /// question goes to a model the user no longer configured; the error says why.
    pub fn apply_settings(&self, settings: &Settings) -> Result<(), AskError> {
        self.set_config(AssistantConfig::from_settings(settings));
        match RemoteModel::from_settings(settings, &self.paths.key_store()) {
            Ok(remote) => {
                self.set_remote(remote);
                Ok(())
            }
            Err(error) => {
                self.set_remote(None);
                Err(error)
            }
        }
    }

    /// Starts a conversation titled after its first question.
    pub fn new_conversation(&self, title: &str) -> Result<i64, AskError> {
        self.new_conversation_from(title, None)
    }

    /// Starts a conversation for `api_client`, a program asking through the local API (`None`:
    /// the app itself), titled after its first question.
    pub fn new_conversation_from(&self, title: &str, api_client: Option<&str>) -> Result<i64, AskError> {
        let title: String = title.trim().chars().take(80).collect();
        Ok(self.history.new_conversation_from(&title, automix_budget::now_ms(), api_client)?)
    }

    /// Removes a conversation that holds no question (started for a question that then failed).
    pub fn discard_empty_conversation(&self, conversation_id: i64) -> Result<bool, AskError> {
        Ok(self.history.delete_conversation_if_empty(conversation_id)?)
    }

    /// Records the user's 👍/👎 (or clears it) and lets the router learn from it at once.
    pub fn feedback(&self, question_id: i64, feedback: Option<Feedback>) -> Result<(), AskError> {
        self.history.set_feedback(question_id, feedback)?;
        self.relearn()
    }

    /// What the router has learned from use about the model in use.
    pub fn router_learning(&self) -> RouterLearning {
        read(&self.router).learning()
    }

    /// Forgets what the router learned from use (answers before now no longer teach it).
    pub fn forget_learning(&self) -> Result<(), AskError> {
        let now = automix_budget::now_ms();
        std::fs::write(&self.paths.learning_since, now.to_string()).map_err(|source| AskError::Io { path: self.paths.learning_since.clone(), source })?;
        self.relearn()
    }

    fn relearn(&self) -> Result<(), AskError> {
        let judged = judged_local_answers(&self.history, learning_since(&self.paths))?;
        write(&self.router).learn(&judged);
        Ok(())
    }
}

fn learning_since(paths: &AssistantPaths) -> i64 {
    std::fs::read_to_string(&paths.learning_since).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(i64::MIN)
}

/// Whether each past local answer was right, oldest first, as far as use has shown: the user's 👍/👎
/// on a local answer, else agreement (token F1 ≥ 0.5) with the remote answer it was escalated to.
fn judged_local_answers(history: &History, since_ms: i64) -> Result<Vec<bool>, AskError> {
    Ok(history
        .judged_local_answers(since_ms)?
        .into_iter()
        .map(|judged| match (judged.remote_answer, judged.feedback) {
            (Some(remote), _) => agrees_with(&judged.local_answer, &remote),
            (None, feedback) => feedback == Some(Feedback::Up),
        })
        .collect())
}
