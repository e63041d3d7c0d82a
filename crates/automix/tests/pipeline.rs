//! The whole ask pipeline on the real models against the test provider: one answer stays local
//! (no budget), one escalates, a failing provider leaves the local answer standing uncharged, and
//! cancellation records nothing.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{AnswerSource, AskError, AskEvent, Assistant, AssistantConfig, AssistantPaths, Decision, RemoteModel, Router, Scope};
use automix::budget::BudgetSettings;
use automix::models::{Catalog, ModelKind, ModelStore};
use automix::remote::{BlockingRemoteClient, Cost, PriceTable, RemoteClient, RemoteSettings};
use automix_test_remote::{default_data_dir, AnswerBook, Fault, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");

fn open_assistant(dir: &tempfile::TempDir, server: &TestServer) -> Assistant {
    let catalog = Catalog::bundled();
    let store = ModelStore::from_env();
    let chat = store.locate(catalog.default_for(ModelKind::Chat)).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    let embedder = catalog.default_for(ModelKind::Embedding);
    store.locate(embedder).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    let paths = AssistantPaths {
        chat_model: chat,
        embedder_dir: store.model_dir(embedder),
        library: dir.path().join("library.sqlite"),
        history: dir.path().join("history.sqlite"),
        learning_since: dir.path().join(automix::assistant::LEARNING_SINCE_FILE),
    };
    let mut settings = RemoteSettings::new(server.base_url(), "gpt-4o-mini");
    settings.backoff_base_ms = 10;
    let price = settings.resolve_price(&PriceTable::bundled()).unwrap();
    let client = BlockingRemoteClient::new(RemoteClient::new(settings, None).unwrap()).unwrap();
    let remote = RemoteModel { client, model: "gpt-4o-mini".into(), price, accuracy: 0.9, max_tokens: 128 };
    Assistant::open(&paths, Some(remote), AssistantConfig { max_answer_tokens: 24, ..Default::default() }).unwrap()
}

fn set_budget(assistant: &Assistant, monthly: f64) {
    assistant
        .ledger()
        .set_settings(&BudgetSettings { monthly_limit: Cost::from_units(monthly), currency: "USD".into(), per_answer_cap: None })
        .unwrap();
}

fn ask(assistant: &Assistant, question: &str, conversation: i64) -> (Result<i64, AskError>, Vec<AskEvent>) {
    let mut events = Vec::new();
    let scope = Scope::Text { source: "france.md".into(), text: FRANCE.into() };
    let result = assistant.ask(question, &scope, conversation, &mut |e| events.push(e), &Arc::new(AtomicBool::new(false)));
    (result, events)
}

fn routed(events: &[AskEvent]) -> Decision {
    events.iter().find_map(|e| if let AskEvent::Routed { decision, .. } = e { Some(*decision) } else { None }).expect("a Routed event")
}

fn done(events: &[AskEvent]) -> (String, AnswerSource, f64) {
    match events.last() {
        Some(AskEvent::Done { answer, source, cost, .. }) => (answer.clone(), *source, *cost),
        other => panic!("last event should be Done, got {other:?}"),
    }
}

#[test]
fn one_answer_stays_local_one_escalates_and_history_shows_both() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    let conversation = assistant.history().new_conversation("France", 0).unwrap();

    set_budget(&assistant, 0.0);
    let (first, events) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    first.unwrap();
    assert!(matches!(events[0], AskEvent::Retrieved { .. }));
    assert!(events.iter().any(|e| matches!(e, AskEvent::LocalToken { .. })));
    assert_eq!(routed(&events), Decision::StayLocal, "no budget: the question must stay local");
    let (_, source, cost) = done(&events);
    assert_eq!((source, cost), (AnswerSource::Local, 0.0));
    assert_eq!(server.request_count(), 0, "nothing may leave the machine without budget");

    set_budget(&assistant, 1.0);
    let (second, events) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    let second = second.unwrap();
    assert_eq!(routed(&events), Decision::Escalate);
    assert!(events.iter().any(|e| matches!(e, AskEvent::RemoteToken { .. })));
    let (answer, source, cost) = done(&events);
    assert_eq!(source, AnswerSource::Remote);
    assert!(cost > 0.0 && !answer.is_empty());

    // Exactly the retrieved text and the question left the machine.
    let sent = server.received();
    assert_eq!(sent.len(), 1);
    let body = sent[0].body.to_string();
    assert!(body.contains("Who designed the Eiffel Tower?") && body.contains("Mont Blanc"));

    let history = assistant.history().conversation(conversation).unwrap();
    assert_eq!(history.len(), 2);
    assert!(history[0].record.escalation.is_none());
    let escalated = assistant.history().escalated().unwrap();
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].id, second);
    let escalation = escalated[0].record.escalation.as_ref().unwrap();
    assert_eq!(escalation.payload.chunks.len(), 1);
    assert!((escalation.cost.as_units() - cost).abs() < 1e-9);
    let spent: f64 = assistant.history().spend_per_month().unwrap().iter().map(|m| m.cost.as_units()).sum();
    assert!((spent - cost).abs() < 1e-9);
    let status = assistant.ledger().month_status().unwrap();
    assert_eq!(status.reserved, Cost::ZERO, "every reservation is settled");
    assert!((status.settled.as_units() - cost).abs() < 1e-9);

    // The escalation judged the local answer (by agreement with the remote one); a restart learns from it.
    let bundled = Router::bundled().unwrap().slm_accuracy();
    assert_eq!(assistant.router().slm_accuracy(), bundled, "nothing was judged when it opened");
    drop(assistant);
    let reopened = open_assistant(&dir, &server);
    assert_ne!(reopened.router().slm_accuracy(), bundled);
    std::fs::write(dir.path().join(automix::assistant::LEARNING_SINCE_FILE), i64::MAX.to_string()).unwrap();
    drop(reopened);
    assert_eq!(open_assistant(&dir, &server).router().slm_accuracy(), bundled, "forgetting restores the calibration");
}

#[test]
fn a_failing_provider_leaves_the_local_answer_uncharged_and_cancel_records_nothing() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    let conversation = assistant.history().new_conversation("faults", 0).unwrap();
    server.push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError, Fault::ServerError]);
    let (result, events) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    let id = result.unwrap();
    assert!(events.iter().any(|e| matches!(e, AskEvent::RemoteFailed { .. })));
    let (answer, source, cost) = done(&events);
    assert_eq!((source, cost), (AnswerSource::Local, 0.0));
    let stored = assistant.history().question(id).unwrap();
    assert_eq!(stored.record.local.text, answer);
    assert!(stored.record.escalation.as_ref().unwrap().error.is_some());
    assert_eq!(assistant.ledger().month_status().unwrap().settled, Cost::ZERO);

    let cancelled = Arc::new(AtomicBool::new(true));
    let scope = Scope::Text { source: "france.md".into(), text: FRANCE.into() };
    let err = assistant.ask("What is the capital?", &scope, conversation, &mut |_| {}, &cancelled).unwrap_err();
    assert_eq!(err.code(), "cancelled");
    assert_eq!(assistant.history().conversation(conversation).unwrap().len(), 1);
}
