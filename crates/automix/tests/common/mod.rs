//! What the engine tests that talk to the test remote server share: an assistant on the real
//! SmolLM2 and embedder (as `make test` installed them) with the remote model behind `server`,
//! everything else in the test's own folder.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use automix::assistant::{Assistant, AssistantConfig, AssistantPaths, RemoteModel};
use automix::budget::BudgetSettings;
use automix::models::{Catalog, ModelKind, ModelStore};
use automix::remote::{BlockingRemoteClient, Cost, PriceTable, RemoteClient, RemoteSettings};
use automix::settings::AskBeforeSending;
use automix_test_remote::TestServer;

/// The answer length: short enough that 300 questions fit a CI run, long enough to be answers.
pub const MAX_ANSWER_TOKENS: usize = 24;

pub fn open_assistant(dir: &tempfile::TempDir, server: &TestServer) -> Assistant {
    let catalog = Catalog::bundled();
    let store = ModelStore::from_env();
    let chat = catalog.default_for(ModelKind::Chat);
    store.locate(chat).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    let mut paths = AssistantPaths::from_home(dir.path());
    // The models stay where `make test` installed them; everything else lives in the test's folder.
    std::os::unix::fs::symlink(store.root(), paths.home.join("models")).ok();
    paths.learning_since = dir.path().join(automix::assistant::LEARNING_SINCE_FILE);
    let mut settings = RemoteSettings::new(server.base_url(), "gpt-4o-mini");
    settings.backoff_base_ms = 10;
    let price = settings.resolve_price(&PriceTable::bundled()).unwrap();
    let client = BlockingRemoteClient::new(RemoteClient::new(settings, None).unwrap()).unwrap();
    let remote = RemoteModel { client, model: "gpt-4o-mini".into(), price, accuracy: 0.9, max_tokens: 128 };
    // The router sends by itself here; tests of "Ask me before sending" switch it on.
    let config = AssistantConfig { max_answer_tokens: MAX_ANSWER_TOKENS, ask_before_sending: AskBeforeSending::Never, ..Default::default() };
    let assistant = Assistant::open(&paths, Some(remote), config).unwrap();
    assistant.load_embedder().unwrap();
    assistant.load_chat_model(&chat.id).unwrap();
    assistant
}

pub fn set_budget(assistant: &Assistant, monthly: f64) {
    assistant.ledger().set_settings(&BudgetSettings { monthly_limit: Cost::from_units(monthly), currency: "USD".into(), per_answer_cap: None }).unwrap();
}
