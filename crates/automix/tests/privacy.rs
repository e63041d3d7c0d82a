//! Private documents never leave the device, checked at the byte level against the test provider:
//! an answer read only from a private folder stays local with that reason (and "Ask the remote
//! model" refuses it), a mixed question sends only the shareable passages, a follow-up never
//! carries an earlier turn that read a private document, and the preview shows what is withheld.

mod common;

use common::{open_assistant, set_budget};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix::assistant::{AskEvent, Assistant, RouteDecision, Scope};
use automix::docs::IndexOptions;
use automix::types::ErrorCode;
use automix_test_remote::{default_data_dir, AnswerBook, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");
const LEASE: &str = "# Lease agreement\n\nThe tenant, Ms. Ottilie Quist, pays a deposit of 4711 euros into the escrow account 88-ZEBRA-13. \
The flat at 9 Rue Vaneau is let from 1 March 2026 for a monthly rent of 1290 euros, heating included.\n";

fn never() -> Arc<AtomicBool> {
    Arc::new(AtomicBool::new(false))
}

/// Every run of six words of the private document, and its rarest words on their own.
fn private_fragments() -> Vec<String> {
    let words: Vec<&str> = LEASE.split_whitespace().collect();
    let mut fragments: Vec<String> = words.windows(6).map(|window| window.join(" ")).collect();
    fragments.extend(["Quist", "Ottilie", "4711", "ZEBRA", "Vaneau", "1290"].map(String::from));
    fragments
}

/// Fails if any request the provider received carries any part of `secrets`.
fn assert_nothing_private_sent(server: &TestServer, secrets: &[String]) {
    for (index, request) in server.received().iter().enumerate() {
        let body = request.body.to_string();
        for secret in secrets {
            assert!(!body.contains(secret.as_str()), "request {index} carried private text {secret:?}: {body}");
        }
    }
}

fn ask(assistant: &Assistant, question: &str, scope: &Scope, conversation: i64) -> (i64, Vec<AskEvent>) {
    let mut events = Vec::new();
    let id = assistant.ask(question, scope, conversation, &mut |event| events.push(event), &never()).unwrap();
    (id, events)
}

fn routed(events: &[AskEvent]) -> (RouteDecision, String) {
    events
        .iter()
        .find_map(|event| if let AskEvent::Routed { decision, reason, .. } = event { Some((*decision, reason.clone())) } else { None })
        .expect("a Routed event")
}

#[test]
fn private_passages_and_turns_that_read_them_never_reach_the_provider() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);

    let contracts = dir.path().join("contracts");
    std::fs::create_dir(&contracts).unwrap();
    std::fs::write(contracts.join("lease.md"), LEASE).unwrap();
    let france = dir.path().join("france.md");
    std::fs::write(&france, FRANCE).unwrap();
    let embedder = assistant.embedder().unwrap();
    assistant.library().add_paths(&embedder, &[contracts.clone(), france], &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).unwrap();
    assistant.set_folder_private(&contracts, true).unwrap();
    let documents = assistant.documents().unwrap();
    let lease = documents.iter().find(|d| d.path.ends_with("lease.md")).unwrap();
    assert!(lease.private && lease.private_folder.is_some(), "the folder makes its document private");
    assert!(!documents.iter().find(|d| d.path.ends_with("france.md")).unwrap().private);
    let unknown = assistant.set_folder_private(Path::new("/no/such/library/folder"), true).unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::InvalidInput);

    // Read only from the private folder: stays local, says why, and asking for the remote answer
    // is refused before anything is reserved or sent.
    let conversation = assistant.new_conversation("Flat").unwrap();
    let private_question = "How much is the deposit for the flat?";
    let (private_id, events) = ask(&assistant, private_question, &Scope::Documents(vec![lease.id]), conversation);
    let (decision, reason) = routed(&events);
    assert_eq!(decision, RouteDecision::StayLocal);
    assert!(reason.contains("private document"), "the badge says why: {reason}");
    let refused = assistant.escalate(private_id, &mut |_| {}, &never()).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::OnlyPrivatePassages);
    assert_eq!(server.request_count(), 0, "nothing may leave the machine");
    assert_eq!(assistant.ledger().month_status().unwrap().reserved, automix::remote::Cost::ZERO);

    // The earlier turn read the lease, so its question and its answer are private too.
    let private_answer = assistant.history().question(private_id).unwrap().record.local.text;
    let mut secrets = private_fragments();
    secrets.push(private_question.to_string());
    if private_answer.trim().len() >= 8 {
        secrets.push(private_answer.trim().to_string());
    }

    // A follow-up on the whole library: the preview shows what is withheld and sends nothing.
    let follow_up = "Who designed the Eiffel Tower, and what does the deposit cover?";
    let preview = assistant.preview_payload(follow_up, Some(conversation), &Scope::Library).unwrap();
    let withheld = preview.withheld.clone().expect("the preview says what is withheld");
    assert!(withheld.contains("1 earlier turn that read a private document"), "{withheld}");
    let previewed = serde_json::to_string(&preview.messages).unwrap();
    for secret in &secrets {
        assert!(!previewed.contains(secret.as_str()), "the preview shows {secret:?} as sent");
    }
    assert_eq!(server.request_count(), 0, "a preview sends nothing");

    // The mixed question itself, escalated by the router or on request: only shareable bytes leave.
    let (mixed_id, events) = ask(&assistant, follow_up, &Scope::Library, conversation);
    if routed(&events).0 != RouteDecision::Escalate {
        assistant.escalate(mixed_id, &mut |_| {}, &never()).unwrap();
    }
    assert_eq!(server.request_count(), 1);
    assert_nothing_private_sent(&server, &secrets);
    let body = server.received()[0].body.to_string();
    assert!(body.contains("Eiffel") && body.contains(follow_up), "the shareable passage and the question are sent: {body}");
    let stored = assistant.history().question(mixed_id).unwrap().record;
    let sent = stored.escalation.unwrap().payload;
    assert!(sent.chunks.iter().all(|chunk| chunk.source.to_lowercase().contains("france")), "only france.md passages are recorded as sent: {:?}", sent.chunks);
    assert!(!body.contains(dir.path().to_string_lossy().as_ref()), "a payload names passages by title, never by their file's path");
    assert!(sent.earlier_turns.is_empty(), "the only earlier turn read the lease");

    // The rule, not luck, kept the lease out: once the folder is shareable, the preview carries it.
    assistant.set_folder_private(&contracts, false).unwrap();
    let shareable = assistant.preview_payload(private_question, None, &Scope::Documents(vec![lease.id])).unwrap();
    assert!(shareable.withheld.is_none() && !shareable.only_private);
    assert!(serde_json::to_string(&shareable.messages).unwrap().contains("ZEBRA"));
    // A document's own flag works like its folder's.
    assistant.set_document_private(&lease.id.to_string(), true).unwrap();
    let marked = assistant.preview_payload(private_question, None, &Scope::Documents(vec![lease.id])).unwrap();
    assert!(marked.only_private && marked.messages.is_empty(), "a private document alone: nothing would be sent");
}

/// Redaction before sending: the provider receives placeholders, never the masked text, and the
/// preview shows the same placeholders and says what was masked.
#[test]
fn masked_personal_data_and_listed_words_never_reach_the_provider() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    set_budget(&assistant, 1.0);
    let mut config = assistant.config();
    config.redaction = automix::settings::Redaction { personal_data: true, words: vec!["Vaneau".into()] };
    assistant.set_config(config);
    let text = "The tenant Ottilie Quist (ottilie.quist@example.org, +49 30 1234 5678) pays the rent of the flat at 9 Rue Vaneau \
                to DE89 3704 0044 0532 0130 00 on the first of each month.";
    let scope = Scope::Text { source: "lease.txt".into(), text: text.into() };
    let conversation = assistant.new_conversation("Rent").unwrap();
    let question = "Where does the tenant of Rue Vaneau pay the rent to?";
    let preview = assistant.preview_payload(question, Some(conversation), &scope).unwrap();
    let note = preview.masked.clone().expect("the preview says what is masked");
    assert!(note.starts_with("1 e-mail address, 1 phone number, 1 IBAN") && note.contains("listed word"), "{note}");
    let shown = serde_json::to_string(&preview.messages).unwrap();
    assert!(shown.contains("[EMAIL_1]") && shown.contains("[IBAN_1]") && shown.contains("[WORD_1]"), "{shown}");

    let id = assistant.ask(question, &scope, conversation, &mut |_| {}, &never()).unwrap();
    if server.request_count() == 0 {
        assistant.escalate(id, &mut |_| {}, &never()).unwrap();
    }
    let body = server.received()[0].body.to_string();
    for secret in ["ottilie.quist@example.org", "1234 5678", "DE89", "Vaneau"] {
        assert!(!body.contains(secret), "{secret} reached the provider: {body}");
    }
    assert!(body.contains("[IBAN_1]") && body.contains("[WORD_1]"), "{body}");
    let stored = assistant.history().question(id).unwrap().record.escalation.unwrap();
    assert!(!serde_json::to_string(&stored.payload).unwrap().contains("Vaneau"), "the history records the payload as sent");
}
