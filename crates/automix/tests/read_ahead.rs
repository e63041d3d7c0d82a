//! Reading a document ahead of the first question about it (`Assistant::read_ahead`, which the app
//! runs after a document is added): the question then reads only its own tokens, a cancelled
//! read-ahead keeps what it read, and an empty library is a clear error.

use automix::types::ErrorCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{Assistant, AssistantConfig, AssistantPaths, Scope};
use automix::docs::IndexOptions;
use automix::models::{Catalog, ModelKind, ModelStore};

const FRANCE: &str = include_str!("../assets/france.md");

fn open(dir: &tempfile::TempDir) -> Assistant {
    let store = ModelStore::from_env();
    let chat = Catalog::bundled().default_for(ModelKind::Chat).clone();
    store.locate(&chat).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    let paths = AssistantPaths::from_home(dir.path());
    std::os::unix::fs::symlink(store.root(), paths.home.join("models")).unwrap();
    let assistant = Assistant::open(&paths, None, AssistantConfig { max_answer_tokens: 16, never_escalate: true, ..Default::default() }).unwrap();
    assistant.load_embedder().unwrap();
    assistant.load_chat_model(&chat.id).unwrap();
    assistant
}

#[test]
fn a_page_read_ahead_is_not_read_again_by_the_first_question_about_it() {
    let dir = tempfile::tempdir().unwrap();
    let assistant = open(&dir);
    let flag = |set: bool| Arc::new(AtomicBool::new(set));
    let error = assistant.read_ahead(&Scope::Library, &flag(false)).unwrap_err();
    assert_eq!(error.code(), ErrorCode::LibraryEmpty, "{error}");

    let page = dir.path().join("france.md");
    std::fs::write(&page, FRANCE).unwrap();
    assistant.library().add_paths(&assistant.embedder().unwrap(), &[page], &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    let page_tokens = assistant.model().unwrap().count_tokens(FRANCE).unwrap();

    // Cancelled before its first chunk: no error, and only the instructions (read at load) are held.
    let instructions = assistant.read_ahead(&Scope::Library, &flag(true)).unwrap();
    let read = assistant.read_ahead(&Scope::Library, &flag(false)).unwrap();
    assert!(read > instructions + page_tokens / 2, "read ahead {read} tokens; the instructions are {instructions}, the page {page_tokens}");

    let observation = assistant.observe("What is the capital of France?", &Scope::Library, None, &mut |_| {}, &flag(false)).unwrap();
    let timings = &observation.answer.timings;
    assert!(timings.reused_tokens + 2 >= read, "the question reused {} of the {read} tokens read ahead", timings.reused_tokens);
    assert!(timings.prefill_tokens < 40, "the question read {} tokens itself: more than its own", timings.prefill_tokens);
    assert!(!observation.answer.text.trim().is_empty());
}
