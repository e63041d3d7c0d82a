//! "Ask me before sending": an escalation the router decides waits, with nothing sent, until the
//! user chooses; the pending card's payload is exactly what Send sends (less the passages the
//! user leaves out); a restart keeps it pending; Keep local sends nothing; "ask above an amount"
//! lets cheap escalations through. Against the test provider, on the real models.

mod common;

use common::{open_assistant, set_budget};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{AnswerSource, AskEvent, Assistant, AssistantConfig, RouteDecision, Scope};
use automix::docs::IndexOptions;
use automix::settings::AskBeforeSending;
use automix::types::ErrorCode;
use automix_test_remote::{default_data_dir, AnswerBook, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");
const NOTES: &str = "# Tower notes\n\nThe Eiffel Tower was painted in a colour called Eiffel Tower Brown in 1968. The repainting used sixty tonnes of paint.\n";

fn never() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

fn ask(assistant: &Assistant, question: &str, conversation: i64) -> (i64, RouteDecision, String, AnswerSource) {
    let mut events = Vec::new();
    let id = assistant.ask(question, &Scope::Library, conversation, &mut |event| events.push(event), &never()).unwrap();
    let (decision, reason) =
        events.iter().find_map(|e| if let AskEvent::Routed { decision, reason, .. } = e { Some((*decision, reason.clone())) } else { None }).unwrap();
    let source = match events.last() {
        Some(AskEvent::Done { source, .. }) => *source,
        other => panic!("last event should be Done, got {other:?}"),
    };
    (id, decision, reason, source)
}

fn asking(assistant: &Assistant, ask_before_sending: AskBeforeSending, ask_above: f64) {
    assistant.set_config(AssistantConfig { ask_before_sending, ask_above, ..assistant.config() });
}

#[test]
fn a_pending_escalation_sends_nothing_until_approved_and_survives_a_restart() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    let docs = dir.path().join("docs");
    std::fs::create_dir(&docs).unwrap();
    std::fs::write(docs.join("france.md"), FRANCE).unwrap();
    std::fs::write(docs.join("notes.md"), NOTES).unwrap();
    assistant.library().add_paths(&assistant.embedder().unwrap(), &[docs], &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    asking(&assistant, AskBeforeSending::Always, 0.0);
    let conversation = assistant.new_conversation("Tower").unwrap();

    let (id, decision, reason, source) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    assert_eq!(decision, RouteDecision::AwaitingApproval, "{reason}");
    assert!(reason.contains("nothing is sent until you approve it"), "{reason}");
    assert_eq!(source, AnswerSource::Local, "the local answer is shown meanwhile");
    assert_eq!(server.request_count(), 0, "nothing leaves before the user chooses");
    assert_eq!(assistant.ledger().month_status().unwrap().reserved, automix::remote::Cost::ZERO, "nothing is reserved either");

    let pending = assistant.pending_approval(id, &[]).unwrap();
    assert_eq!(pending.model, "gpt-4o-mini");
    assert_eq!(pending.host, server.address().to_string());
    assert!(pending.passages.len() >= 2, "both documents were read: {:?}", pending.passages);
    assert!(pending.worst_case_cost > 0.0 && pending.tokens > 0);
    let everything = serde_json::to_string(&pending.messages).unwrap();
    let left_out = pending.passages.iter().find(|p| p.source.contains("Tower notes") || p.source.contains("notes.md")).expect("the notes were read").index;
    assert!(everything.contains("Eiffel Tower Brown"));
    let without = assistant.pending_approval(id, &[left_out]).unwrap();
    assert!(!serde_json::to_string(&without.messages).unwrap().contains("Eiffel Tower Brown"), "the left-out passage is not in the preview");
    assert!(without.worst_case_cost < pending.worst_case_cost && without.passages[left_out].left_out);
    assert_eq!(assistant.pending_approval(id, &[99]).unwrap_err().code(), ErrorCode::InvalidInput);

    // Closing the app leaves it pending.
    drop(assistant);
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    asking(&assistant, AskBeforeSending::Always, 0.0);
    let reopened = assistant.conversation_answers(conversation).unwrap();
    assert_eq!(reopened[0].decision, RouteDecision::AwaitingApproval);
    assert_eq!(server.request_count(), 0);

    // Send without the notes: exactly the previewed messages leave, once.
    let sent = assistant.send_approved(id, &[left_out], &mut |_| {}, &never()).unwrap();
    assert_eq!(sent.decision, RouteDecision::Escalate);
    assert!(sent.reason.starts_with("you approved sending it to gpt-4o-mini") && sent.reason.contains("you left out 1 of its passages"), "{}", sent.reason);
    assert!(sent.remote_answer.is_some() && sent.cost > 0.0);
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body["messages"], serde_json::to_value(&without.messages).unwrap(), "what was sent is what the card showed");
    assert_eq!(assistant.send_approved(id, &[], &mut |_| {}, &never()).unwrap_err().code(), ErrorCode::AlreadyEscalated);

    // Keep local: nothing is sent, and the badge says who chose.
    let (second, decision, _, _) = ask(&assistant, "What colour is the Eiffel Tower painted?", conversation);
    assert_eq!(decision, RouteDecision::AwaitingApproval);
    let kept = assistant.keep_local(second).unwrap();
    assert_eq!(kept.decision, RouteDecision::StayLocal);
    assert!(kept.reason.starts_with("you kept it on this device"), "{}", kept.reason);
    assert_eq!(server.request_count(), 1, "keeping it local sends nothing");

    // "Ask when an answer could cost more than": a cheap escalation goes by itself, a dear one waits.
    asking(&assistant, AskBeforeSending::Above, 1000.0);
    let (_, decision, _, _) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    assert_eq!(decision, RouteDecision::Escalate, "below the amount the router sends by itself");
    asking(&assistant, AskBeforeSending::Above, 0.0);
    let (_, decision, _, _) = ask(&assistant, "Who designed the Eiffel Tower?", conversation);
    assert_eq!(decision, RouteDecision::AwaitingApproval, "above the amount it waits");
}
