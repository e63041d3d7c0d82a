//! Recording questions and reading them back: conversations, escalations, spend, feedback.

use std::collections::BTreeMap;

use automix_history::{Citation, Escalation, Feedback, History, LocalAnswer, QuestionRecord, RouteDecision, Routing, StoreError};
use automix_types::{Cost, EscalationPayload, PayloadChunk, Usage};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// 2025-01-31T12:00:00Z
const JAN_31_NOON: i64 = 1_738_324_800_000;

fn record(conversation_id: i64, asked_at_ms: i64, question: &str, escalated_cost: Option<Cost>) -> QuestionRecord {
    let payload = EscalationPayload {
        system_prompt: "Answer from the context.".into(),
        question: question.into(),
        chunks: vec![PayloadChunk { source: "a.md".into(), text: "Ada wrote the notes.".into() }],
        earlier_turns: Vec::new(),
    };
    QuestionRecord {
        conversation_id,
        asked_at_ms,
        question: question.into(),
        citations: vec![Citation { source: "a.md".into(), chunk_id: Some("a.md#0".into()), text: "Ada wrote the notes.".into(), score: 0.91, location: None }],
        local: LocalAnswer { model: "smollm2-135m".into(), text: "Ada.".into(), verifier_value: Some(0.42), latency_ms: 900, verify_latency_ms: 300 },
        routing: Routing {
            decision: if escalated_cost.is_some() { RouteDecision::Escalate } else { RouteDecision::Local },
            reason: "expected utility".into(),
            expected_utilities: BTreeMap::from([("local".to_string(), 0.4), ("escalate".to_string(), 0.55)]),
            lambda: Some(1.5),
            estimated_cost: escalated_cost.map(|cost| Cost::from_nanos(cost.nanos * 3)),
            local_confidence: None,
        },
        escalation: escalated_cost.map(|cost| Escalation {
            model: "gpt-4o-mini".into(),
            payload,
            answer: Some("Ada Lovelace.".into()),
            usage: Some(Usage { prompt_tokens: 120, completion_tokens: 8 }),
            usage_estimated: false,
            cost,
            currency: "USD".into(),
            latency_ms: 1200,
            error: None,
        }),
        total_latency_ms: 2500,
    }
}

#[test]
fn a_recorded_question_reads_back_unchanged_with_feedback() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let history = History::open(&path).unwrap();
    let conversation = history.new_conversation("Notes", JAN_31_NOON).unwrap();
    let escalated = record(conversation, JAN_31_NOON, "Who wrote the notes?", Some(Cost::from_nanos(30_000)));
    let local = record(conversation, JAN_31_NOON + 1, "When?", None);
    let escalated_id = history.record(&escalated).unwrap();
    let local_id = history.record(&local).unwrap();
    history.set_feedback(local_id, Some(Feedback::Down)).unwrap();
    drop(history);

    // Reopening runs the migrations again, which must be a no-op.
    let history = History::open(&path).unwrap();
    let questions = history.conversation(conversation).unwrap();
    assert_eq!(questions.iter().map(|q| q.id).collect::<Vec<_>>(), vec![escalated_id, local_id]);
    assert_eq!(questions[0].record, escalated);
    assert_eq!(questions[1].record, local);
    assert_eq!((questions[0].feedback, questions[1].feedback), (None, Some(Feedback::Down)));
    history.set_feedback(local_id, None).unwrap();
    assert_eq!(history.question(local_id).unwrap().feedback, None);
    assert!(matches!(history.set_feedback(9_999, Some(Feedback::Up)), Err(StoreError::NoSuchQuestion(9_999))));
    assert_eq!(history.conversations().unwrap()[0].title, "Notes");
}

#[test]
fn escalations_and_spend_per_day_and_month() {
    let history = History::open_in_memory().unwrap();
    let conversation = history.new_conversation("c", 0).unwrap();
    history.record(&record(conversation, JAN_31_NOON, "q1", Some(Cost::from_nanos(100)))).unwrap();
    history.record(&record(conversation, JAN_31_NOON + 60_000, "q2", Some(Cost::from_nanos(250)))).unwrap();
    history.record(&record(conversation, JAN_31_NOON + DAY_MS, "q3", Some(Cost::from_nanos(1_000)))).unwrap();
    history.record(&record(conversation, JAN_31_NOON + DAY_MS, "local", None)).unwrap();

    let escalated = history.escalated().unwrap();
    assert_eq!(escalated.iter().map(|q| q.record.question.as_str()).collect::<Vec<_>>(), vec!["q3", "q2", "q1"]);
    assert_eq!(escalated[0].record.escalation.as_ref().unwrap().payload.question, "q3");

    let days: Vec<(String, i64, u64)> = history.spend_per_day().unwrap().into_iter().map(|s| (s.period, s.cost.nanos, s.escalations)).collect();
    assert_eq!(days, vec![("2025-01-31".to_string(), 350, 2), ("2025-02-01".to_string(), 1_000, 1)]);
    let months: Vec<(String, i64)> = history.spend_per_month().unwrap().into_iter().map(|s| (s.period, s.cost.nanos)).collect();
    assert_eq!(months, vec![("2025-01".to_string(), 350), ("2025-02".to_string(), 1_000)]);
}

#[test]
fn recording_into_an_unknown_conversation_is_refused() {
    let history = History::open_in_memory().unwrap();
    let error = history.record(&record(42, 0, "q", None)).unwrap_err();
    assert!(matches!(error, StoreError::NoSuchConversation(42)), "{error}");
}

#[test]
fn a_conversation_from_the_local_api_names_its_client_on_every_question() {
    let history = History::open_in_memory().unwrap();
    let app = history.new_conversation("From the chat", 1).unwrap();
    let api = history.new_conversation_from("From a script", 2, Some("OpenAI/Python")).unwrap();
    let from_app = history.record(&record(app, 10, "q1", None)).unwrap();
    let from_api = history.record(&record(api, 20, "q2", None)).unwrap();
    assert_eq!(history.question(from_app).unwrap().api_client, None);
    assert_eq!(history.question(from_api).unwrap().api_client.as_deref(), Some("OpenAI/Python"));
    let listed: Vec<_> = history.list(false, "", 10).unwrap().into_iter().map(|q| (q.id, q.api_client)).collect();
    assert_eq!(listed, vec![(from_api, Some("OpenAI/Python".to_string())), (from_app, None)]);
    assert_eq!(history.conversations().unwrap()[0].api_client.as_deref(), Some("OpenAI/Python"));

    // A conversation is removed only while it holds no question.
    assert!(!history.delete_conversation_if_empty(api).unwrap());
    let failed = history.new_conversation_from("A request that failed", 3, Some("curl")).unwrap();
    assert!(history.delete_conversation_if_empty(failed).unwrap());
    assert_eq!(history.conversations().unwrap().len(), 2);
}

#[test]
fn the_database_runs_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    let _history = History::open(&path).unwrap();
    let probe = rusqlite::Connection::open(&path).unwrap();
    let mode: String = probe.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn an_escalation_asked_for_later_is_spent_on_its_own_day_and_counted_once() {
    let history = History::open_in_memory().unwrap();
    let conversation = history.new_conversation("c", 0).unwrap();
    let id = history.record(&record(conversation, JAN_31_NOON, "kept local", None)).unwrap();
    assert_eq!(history.totals(true, "").unwrap().escalated, 0);
    let later = record(conversation, JAN_31_NOON, "kept local", Some(Cost::from_nanos(700)));
    history.attach_escalation(id, &later.routing, later.escalation.as_ref().unwrap(), JAN_31_NOON + 3 * DAY_MS).unwrap();

    let days: Vec<(String, i64, u64)> = history.spend_per_day().unwrap().into_iter().map(|s| (s.period, s.cost.nanos, s.escalations)).collect();
    assert_eq!(days, vec![("2025-02-03".to_string(), 700, 1)], "charged on the day of the remote call");
    let stored = history.question(id).unwrap();
    assert_eq!(stored.record.asked_at_ms, JAN_31_NOON, "the question keeps its own time");
    assert_eq!(stored.record.routing.decision, RouteDecision::Escalate);
    let totals = history.totals(true, "kept").unwrap();
    assert_eq!((totals.answers, totals.escalated, totals.cost.nanos), (1, 1, 700));
    assert_eq!(history.totals(false, "no such words").unwrap().answers, 0);
    assert!(matches!(history.attach_escalation(id + 1, &later.routing, later.escalation.as_ref().unwrap(), 0), Err(StoreError::NoSuchQuestion(_))));
}
