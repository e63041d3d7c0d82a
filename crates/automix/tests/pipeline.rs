//! The whole ask pipeline on the real models against the test provider: one answer stays local
//! (no budget), one escalates, a failing provider leaves the local answer standing uncharged, and
//! cancellation records nothing; follow-ups carry earlier turns, previews send nothing, and the
//! user can escalate a local answer through the ledger.

mod common;

use common::{open_assistant, set_budget};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{AnswerSource, AskError, AskEvent, Assistant, AssistantConfig, RouteDecision, Router, RouterLearning, Scope};
use automix::history::Feedback;
use automix::remote::Cost;
use automix::types::ErrorCode;
use automix_test_remote::{default_data_dir, AnswerBook, Fault, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");

fn ask(assistant: &Assistant, question: &str, conversation: i64) -> (Result<i64, AskError>, Vec<AskEvent>) {
    let mut events = Vec::new();
    let scope = Scope::Text { source: "france.md".into(), text: FRANCE.into() };
    let result = assistant.ask(question, &scope, conversation, &mut |e| events.push(e), &Arc::new(AtomicBool::new(false)));
    (result, events)
}

fn routed(events: &[AskEvent]) -> RouteDecision {
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
    assert_eq!(routed(&events), RouteDecision::StayLocalBudget, "no budget: the question must stay local");
    let (_, source, cost) = done(&events);
    assert_eq!((source, cost), (AnswerSource::Local, 0.0));
    assert_eq!(server.request_count(), 0, "nothing may leave the machine without budget");

    set_budget(&assistant, 1.0);
    let (second, events) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    let second = second.unwrap();
    assert_eq!(routed(&events), RouteDecision::Escalate);
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

    // The escalation judged the local answer (by agreement with the remote one): the router learned
    // at once, a restart remembers it, and forgetting restores the calibration.
    let bundled = Router::bundled().unwrap().slm_accuracy();
    let learned = assistant.router_learning();
    assert_eq!(learned.judged, 1, "one escalated answer judged the local one");
    assert_ne!(learned.local_accuracy, bundled, "the escalation taught the router at once");
    drop(assistant);
    let reopened = open_assistant(&dir, &server);
    assert_eq!(reopened.router_learning(), learned);
    reopened.forget_learning().unwrap();
    assert_eq!(reopened.router_learning(), RouterLearning { judged: 0, correct: 0, local_accuracy: bundled }, "forgetting restores the calibration");
    drop(reopened);
    assert_eq!(open_assistant(&dir, &server).router_learning().local_accuracy, bundled);
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
    assert_eq!(err.code(), ErrorCode::Cancelled);
    assert_eq!(assistant.history().conversation(conversation).unwrap().len(), 1);
}

#[test]
fn follow_ups_carry_earlier_turns_previews_send_nothing_and_the_user_can_escalate_a_local_answer() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    assistant.set_config(AssistantConfig { max_answer_tokens: 24, never_escalate: true, ..Default::default() });
    let conversation = assistant.new_conversation("France").unwrap();

    let (first, events) = ask(&assistant, "What is the capital of France?", conversation);
    first.unwrap();
    assert_eq!(routed(&events), RouteDecision::StayLocal, "escalation is switched off");
    assert_eq!(server.request_count(), 0);

    let scope = Scope::Text { source: "france.md".into(), text: FRANCE.into() };
    let follow_up = "Who designed its most famous tower?";
    let preview = assistant.preview_payload(follow_up, Some(conversation), &scope).unwrap();
    assert_eq!(preview.model.as_deref(), Some("gpt-4o-mini"));
    assert!(preview.worst_case_cost.unwrap() > 0.0);
    let roles: Vec<&str> = preview.messages.iter().map(|m| m.role.as_str()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"], "the earlier turn comes before the follow-up");
    assert!(preview.messages[1].content.contains("capital of France") && preview.messages[3].content.ends_with(follow_up));
    assert_eq!(server.request_count(), 0, "a preview sends nothing");

    let (second, _) = ask(&assistant, follow_up, conversation);
    let second = second.unwrap();
    let before = assistant.router_learning();
    assistant.feedback(second, Some(Feedback::Down)).unwrap();
    let after = assistant.router_learning();
    assert!(after.local_accuracy < before.local_accuracy, "feedback teaches the router at once");
    assert_eq!((after.judged, after.correct), (before.judged + 1, before.correct), "a 👎 is one more judged answer, not a right one");

    let mut streamed = String::new();
    let view = assistant
        .escalate(
            second,
            &mut |e| {
                if let AskEvent::RemoteToken { text } = e {
                    streamed.push_str(&text)
                }
            },
            &Arc::new(AtomicBool::new(false)),
        )
        .unwrap();
    assert_eq!(view.remote_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(view.remote_answer.as_deref(), Some(streamed.as_str()));
    assert_eq!(view.decision, RouteDecision::Escalate);
    assert!(view.cost > 0.0 && view.reason.starts_with("you asked gpt-4o-mini"));
    let sent = server.received();
    assert_eq!(sent.len(), 1);
    let messages = sent[0].body["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 4, "system, the earlier turn (question and answer), the follow-up");
    assert!(messages[1]["content"].as_str().unwrap().contains("capital of France"));
    assert!((assistant.ledger().month_status().unwrap().settled.as_units() - view.cost).abs() < 1e-9, "charged through the ledger");
    assert_eq!(assistant.escalate(second, &mut |_| {}, &Arc::new(AtomicBool::new(false))).unwrap_err().code(), ErrorCode::AlreadyEscalated);

    let page = assistant.history_page(true, "tower").unwrap();
    assert_eq!((page.count, page.escalated), (1, 1));
    assert!((page.total_cost - view.cost).abs() < 1e-9);
    assert_eq!(assistant.history_page(false, "").unwrap().count, 2);
    let spend = assistant.spend_report().unwrap();
    assert_eq!((spend.answers, spend.escalated), (2, 1));
    assert!((spend.spent - view.cost).abs() < 1e-9);

    let nothing_chosen = assistant.ask("What is the capital?", &Scope::Documents(vec![]), conversation, &mut |_| {}, &Arc::new(AtomicBool::new(false)));
    assert_eq!(nothing_chosen.unwrap_err().code(), ErrorCode::NoDocumentsChosen);
}

/// `automix collect --remote-endpoint`: each item's remote answer is recorded from exactly the
/// payload the app would send for it (what Settings' preview shows), with the usage, the cost at
/// the given price and the latency; the ledger charges nothing; the keychain's key goes only to
/// the settings' own endpoint.
#[test]
fn collecting_records_the_remote_answer_to_the_apps_own_payload_and_charges_nothing() {
    use automix::collect::{collect_item, index_contexts, remote_for_collecting};
    use automix::qa::QaItem;
    use automix::remote::{ApiKey, KeyStore, ModelPrice};
    use automix::settings::Settings;

    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    let never = Arc::new(AtomicBool::new(false));
    let item = QaItem {
        id: "eiffel".into(),
        dataset: "france".into(),
        context: FRANCE.into(),
        question: "Who designed the Eiffel Tower?".into(),
        answers: vec!["Gustave Eiffel".into()],
        metric: "f1".into(),
        choices: Vec::new(),
        gold_index: None,
    };
    let documents = index_contexts(&assistant, std::slice::from_ref(&item), &dir.path().join("work"), &mut |_, _| {}, &never).unwrap();
    let document = documents[FRANCE];
    let keys = KeyStore::file_only(dir.path().join("key"));
    keys.save(&ApiKey::new("sk-collect-test-41c2")).unwrap();
    let price = ModelPrice { input_per_million: 1.0, output_per_million: 2.0 };

    // The settings name another provider: its key must not reach this server.
    let mut settings = Settings::default();
    settings.remote.endpoint = "https://api.example.com/v1".into();
    settings.remote.model = "gpt-4o".into();
    let remote = remote_for_collecting(&settings, &keys, &server.base_url(), "gpt-4o-mini", Some(price)).unwrap();
    let row = collect_item(&assistant, &item, document, &[], Some(&remote), &never).unwrap();

    let sent = server.received();
    assert_eq!(sent.len(), 1, "one request per item");
    assert_eq!(sent[0].authorization, None, "the key of another endpoint is never sent");
    assert_eq!(sent[0].body["stream"], true, "streamed, as the app escalates");
    let preview = assistant.preview_payload(&item.question, None, &Scope::Documents(vec![document])).unwrap();
    assert_eq!(sent[0].body["messages"], serde_json::to_value(&preview.messages).unwrap(), "the payload the app would send");

    let [recorded] = row.llm.as_slice() else { panic!("one remote answer: {:?}", row.llm) };
    let call = recorded.call.as_ref().expect("the call's usage and cost");
    assert_eq!(recorded.model, "gpt-4o-mini");
    assert!(!recorded.answer.is_empty() && recorded.latency_ms.is_some() && row.slm.latency_ms.is_some());
    assert!(call.prompt_tokens > 0 && call.completion_tokens > 0 && !call.usage_estimated);
    let expected = (f64::from(call.prompt_tokens) * 1.0 + f64::from(call.completion_tokens) * 2.0) / 1e6;
    assert!((call.cost - expected).abs() < 1e-9, "cost {} at the given price, expected {expected}", call.cost);
    assert_eq!((call.currency.as_str(), call.endpoint.as_str()), ("USD", server.base_url().as_str()));
    let status = assistant.ledger().month_status().unwrap();
    assert_eq!((status.settled, status.reserved), (Cost::ZERO, Cost::ZERO), "collecting is not the user's spending");

    // The settings' own endpoint gets the settings' key.
    settings.remote.endpoint = server.base_url();
    let remote = remote_for_collecting(&settings, &keys, &server.base_url(), "gpt-4o-mini", None).unwrap();
    collect_item(&assistant, &item, document, &[], Some(&remote), &never).unwrap();
    assert_eq!(server.received()[1].authorization.as_deref(), Some("Bearer sk-collect-test-41c2"));
}

/// The network log lists every request the provider received, request for request and byte for
/// byte: a retried escalation is two rows, the answered one carries the cost, the failed one none.
#[test]
fn the_network_log_matches_what_the_provider_received() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    assert!(assistant.network_log().unwrap().is_empty(), "a new home has sent nothing");
    set_budget(&assistant, 1.0);
    let conversation = assistant.new_conversation("network").unwrap();
    server.push_faults([Fault::ServerError]);
    let (answered, events) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    let answered = answered.unwrap();
    assert_eq!(routed(&events), RouteDecision::Escalate);
    let (_, source, cost) = done(&events);
    assert_eq!(source, AnswerSource::Remote);

    let log = assistant.network_log().unwrap();
    let received = server.received();
    assert_eq!(log.len(), received.len(), "one row per request the provider received");
    assert_eq!(log.len(), 2);
    for (row, arrived) in log.iter().zip(&received) {
        assert_eq!(row.bytes_sent, Some(arrived.body_bytes as u64));
        assert_eq!(row.host, server.address().to_string());
        assert_eq!(row.purpose, automix::types::NetworkPurpose::Escalation);
        assert_eq!(row.currency.as_deref(), Some("USD"));
    }
    assert_eq!((log[0].status, log[0].cost), (Some(500), 0.0));
    assert_eq!(log[1].status, Some(200));
    assert!((log[1].cost - cost).abs() < 1e-12, "the answered attempt carries the escalation's cost");
    let stored = assistant.history().question(answered).unwrap().record.escalation.unwrap();
    assert!((stored.cost.as_units() - cost).abs() < 1e-12);
    assert!(log[1].at_ms >= log[0].at_ms);
}
