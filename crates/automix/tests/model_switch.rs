//! Choosing another chat model on the real models `make test` installs (SmolLM2-135M and
//! Qwen2.5-Coder 0.5B): the history and the documents stay; and the short speed measurement the app
//! runs after a download, kept per model in `model-speeds.json`.

use automix::types::ErrorCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{Assistant, AssistantConfig, AssistantPaths, Scope};
use automix::docs::IndexOptions;
use automix::models::{Catalog, ModelStore};
use automix::speed::{measure_chat_model, measured_speed, model_figures, SpeedStore, SHORT_DECODE_TOKENS, SHORT_PROMPT_TOKENS};

const FRANCE: &str = include_str!("../assets/france.md");
const SMOLLM2: &str = "smollm2-135m-instruct";
const QWEN: &str = "qwen2.5-coder-0.5b-instruct";

/// A home of its own whose `models` is where `make test` installed them.
fn home_with_models(dir: &tempfile::TempDir) -> AssistantPaths {
    let store = ModelStore::from_env();
    let catalog = Catalog::bundled();
    for id in [SMOLLM2, QWEN] {
        store.locate(catalog.get(id).unwrap()).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    }
    let paths = AssistantPaths::from_home(dir.path());
    std::os::unix::fs::symlink(store.root(), paths.home.join("models")).unwrap();
    paths
}

#[test]
fn switching_the_chat_model_keeps_history_and_documents() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let config = AssistantConfig { max_answer_tokens: 8, never_escalate: true, ..Default::default() };
    let assistant = Assistant::open(&paths, None, config).unwrap();
    assistant.load_embedder().unwrap();
    assistant.load_chat_model(SMOLLM2).unwrap();
    let page = dir.path().join("france.md");
    std::fs::write(&page, FRANCE).unwrap();
    let never = AtomicBool::new(false);
    assistant.library().add_paths(&assistant.embedder().unwrap(), &[page], &IndexOptions::default(), &mut |_| {}, &never).unwrap();
    let documents = assistant.documents().unwrap();
    assert_eq!(documents.len(), 1);

    let conversation = assistant.new_conversation("France").unwrap();
    let ask = |question: &str| assistant.ask(question, &Scope::Library, conversation, &mut |_| {}, &Arc::new(AtomicBool::new(false))).unwrap();
    let first = ask("What is the capital of France?");
    let before = assistant.model().unwrap().name();

    assistant.load_chat_model(QWEN).unwrap();
    assert_ne!(assistant.model().unwrap().name(), before, "the new model answers now");
    assert_eq!(assistant.documents().unwrap(), documents, "the library is untouched");
    assert_eq!(assistant.history().count().unwrap(), 1, "the history is untouched");
    let rows = assistant.history().conversation(conversation).unwrap();
    assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [first]);

    // The conversation goes on with the new model, earlier turn included.
    let second = ask("And its largest river?");
    let rows = assistant.history().conversation(conversation).unwrap();
    assert_eq!(rows.iter().map(|row| row.id).collect::<Vec<_>>(), [first, second]);
    assert_ne!(rows[0].record.local.model, rows[1].record.local.model, "each answer names the model that wrote it");
    assert_eq!(assistant.documents().unwrap(), documents);
}

#[test]
fn the_short_measurement_is_kept_per_model_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let entry = Catalog::bundled().get(SMOLLM2).unwrap().clone();
    assert!(measured_speed(&paths, &entry).is_none());
    let before = model_figures(&paths, &entry, 1024);
    assert!(before.memory_exact && before.speed.is_none(), "installed: the memory comes from the file's header");

    let speed = measure_chat_model(&paths, SMOLLM2, automix::llm::DeviceChoice::Cpu, 1024).unwrap();
    assert_eq!((speed.model_id.as_str(), speed.prompt_tokens, speed.decode_tokens), (SMOLLM2, SHORT_PROMPT_TOKENS, SHORT_DECODE_TOKENS));
    assert_eq!(speed.file_sha256.len(), 64, "keyed by the installed file's sha256");
    for figure in [speed.load_secs, speed.prefill_tokens_per_sec, speed.decode_tokens_per_sec] {
        assert!(figure > 0.0 && figure.is_finite(), "{speed:?}");
    }
    // SmolLM2-135M Q8_0: a 145 MB file, 45 KiB of KV cache a token.
    assert!((300.0..500.0).contains(&speed.memory_needed_mb), "{speed:?}");
    assert_eq!(measured_speed(&paths, &entry), Some(speed.clone()));
    let after = model_figures(&paths, &entry, 1024);
    assert_eq!((after.memory_needed_mb, after.speed), (Some(speed.memory_needed_mb), Some(speed.clone())));
    assert_eq!(after.memory_needed_mb, before.memory_needed_mb, "the header's figure and the measured one agree");
    assert!(SpeedStore::new(&paths.home).get(SMOLLM2, "0".repeat(64).as_str(), speed.file_bytes).is_none(), "another file is not this one");

    let error = measure_chat_model(&paths, "llama-3.2-3b-instruct", automix::llm::DeviceChoice::Cpu, 1024).unwrap_err();
    assert_eq!(error.code(), ErrorCode::ModelMissing, "{error}");
}
