//! A history written by every earlier schema (tests/fixtures/history/v*.sql, rebuilt from the
//! schema code in git history) opens with today's code, keeps every row, reads back as it was
//! written and takes new questions, feedback and escalations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use automix_history::{Citation, Escalation, Feedback, History, LocalAnswer, QuestionRecord, RouteDecision, Routing, StoreError};
use automix_types::{ChatMessage, Cost, EscalationPayload, PayloadChunk, Usage};
use rusqlite::Connection;

const LATEST: i64 = 5;

/// The fixture loaded into `history.sqlite` in a fresh temporary folder.
fn load(fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    Connection::open(&path).unwrap().execute_batch(fixture).unwrap();
    (dir, path)
}

fn versions(path: &Path) -> (Option<i64>, i64) {
    let connection = Connection::open(path).unwrap();
    let recorded = automix_sqlite::migrate::recorded_version(&connection, "history").unwrap();
    (recorded, automix_sqlite::migrate::user_version(&connection).unwrap())
}

fn utilities(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(action, value)| (action.to_string(), *value)).collect()
}

fn day_spend(history: &History) -> Vec<(String, i64, u64)> {
    history.spend_per_day().unwrap().into_iter().map(|spend| (spend.period, spend.cost.nanos, spend.escalations)).collect()
}

/// After the upgrade the history takes everything today's code writes.
fn still_takes_new_answers(history: &History, conversation: i64) {
    let before = history.count().unwrap();
    let payload = EscalationPayload { system_prompt: "s".into(), question: "New?".into(), chunks: Vec::new(), earlier_turns: Vec::new() };
    let record = QuestionRecord {
        conversation_id: conversation,
        asked_at_ms: 1_800_000_000_000,
        question: "New?".into(),
        citations: Vec::new(),
        local: LocalAnswer { model: "m".into(), text: "Yes.".into(), verifier_value: None, latency_ms: 1, verify_latency_ms: 1 },
        routing: Routing {
            decision: RouteDecision::Local,
            reason: "r".into(),
            expected_utilities: BTreeMap::new(),
            lambda: None,
            estimated_cost: None,
            local_confidence: Some(0.9),
        },
        escalation: None,
        total_latency_ms: 2,
    };
    let id = history.record(&record).unwrap();
    history.set_feedback(id, Some(Feedback::Up)).unwrap();
    let escalation = Escalation {
        model: "gpt-4o-mini".into(),
        payload,
        answer: Some("Yes indeed.".into()),
        usage: Some(Usage { prompt_tokens: 5, completion_tokens: 2 }),
        usage_estimated: false,
        cost: Cost::from_nanos(7),
        currency: "USD".into(),
        latency_ms: 3,
        error: None,
    };
    history.attach_escalation(id, &Routing { decision: RouteDecision::Escalate, ..record.routing.clone() }, &escalation, 1_800_000_000_000).unwrap();
    let stored = history.question(id).unwrap();
    assert_eq!((stored.feedback, stored.record.escalation.as_ref().map(|e| e.cost.nanos)), (Some(Feedback::Up), Some(7)));
    assert_eq!(history.count().unwrap(), before + 1);
}

#[test]
fn a_schema_1_history_is_adopted_and_upgraded_with_every_row() {
    let (_dir, path) = load(include_str!("fixtures/history/v1.sql"));
    assert_eq!(versions(&path), (None, 1));
    let history = History::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(LATEST), 1), "recorded under its own name; user_version is left as the old scheme wrote it");

    assert_eq!(history.count().unwrap(), 3);
    assert_eq!(history.conversations().unwrap().iter().map(|c| (c.id, c.title.as_str())).collect::<Vec<_>>(), vec![(2, "Garden"), (1, "Pump manual")]);
    assert!(history.conversations().unwrap().iter().all(|c| c.api_client.is_none()), "conversations from before the local API were the app's");
    let question = "What temperature does Zorblax coolant boil at?";
    let chunk = "Zorblax coolant boils at 412 kelvin under normal pressure.";
    let expected = QuestionRecord {
        conversation_id: 1,
        asked_at_ms: 1_764_237_600_000,
        question: question.into(),
        citations: vec![Citation { source: "manual.pdf".into(), chunk_id: Some("manual.pdf#1".into()), text: chunk.into(), score: 0.87, location: None }],
        local: LocalAnswer {
            model: "smollm2-135m-instruct".into(),
            text: "About 400 kelvin.".into(),
            verifier_value: Some(0.31),
            latency_ms: 910,
            verify_latency_ms: 240,
        },
        routing: Routing {
            decision: RouteDecision::Escalate,
            reason: "the remote answer is worth its price".into(),
            expected_utilities: utilities(&[("escalate", 0.62), ("local", 0.41)]),
            lambda: Some(1.5),
            estimated_cost: Some(Cost::from_nanos(90_000)),
            local_confidence: None,
        },
        escalation: Some(Escalation {
            model: "gpt-4o-mini".into(),
            payload: EscalationPayload {
                system_prompt: "Answer from the context.".into(),
                question: question.into(),
                chunks: vec![PayloadChunk { source: "manual.pdf".into(), text: chunk.into() }],
                earlier_turns: Vec::new(),
            },
            answer: Some("412 kelvin, under normal pressure.".into()),
            usage: Some(Usage { prompt_tokens: 120, completion_tokens: 9 }),
            usage_estimated: false,
            cost: Cost::from_nanos(30_000),
            currency: "USD".into(),
            latency_ms: 1200,
            error: None,
        }),
        total_latency_ms: 2600,
    };
    let first = history.question(1).unwrap();
    assert_eq!((first.record, first.feedback), (expected, None));
    let decisions: Vec<(RouteDecision, Option<Feedback>)> =
        (1..=3).map(|id| history.question(id).unwrap()).map(|q| (q.record.routing.decision, q.feedback)).collect();
    assert_eq!(
        decisions,
        vec![(RouteDecision::Escalate, None), (RouteDecision::Local, Some(Feedback::Down)), (RouteDecision::StayLocalBudget, Some(Feedback::Up))]
    );

    // Step 3 filed the old escalation on the day it was asked.
    assert_eq!(day_spend(&history), vec![("2025-11-27".to_string(), 30_000, 1)]);
    let totals = history.totals(false, "coolant").unwrap();
    assert_eq!((totals.answers, totals.escalated, totals.cost.nanos), (2, 1, 30_000));
    assert_eq!(history.judged_local_answers(0).unwrap().len(), 3, "the escalated answer and the two with feedback");
    still_takes_new_answers(&history, 2);
}

#[test]
fn a_schema_2_history_keeps_confidence_follow_ups_and_failed_escalations() {
    let (_dir, path) = load(include_str!("fixtures/history/v2.sql"));
    let history = History::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(LATEST), 2));
    assert_eq!(history.count().unwrap(), 3);

    let first = history.question(1).unwrap().record;
    assert_eq!(first.routing.local_confidence, Some(0.29));
    assert_eq!(
        first.citations[0].location,
        Some(automix_history::SourceLocation {
            document_id: 3,
            path: "/home/ada/docs/handbook.docx".into(),
            title: "Staff Handbook".into(),
            page_start: None,
            page_end: None,
            page_label_start: None,
            page_label_end: None,
            ocr_confidence: None,
            section: Some("Leave > Parental leave".into()),
            char_start: 120,
            char_end: 176,
        })
    );
    let follow_up = history.question(2).unwrap().record;
    let failed = follow_up.escalation.expect("the failed call is kept");
    assert_eq!((failed.answer, failed.error.as_deref(), failed.cost), (None, Some("the remote model did not answer in time"), Cost::ZERO));
    assert_eq!(
        failed.payload.earlier_turns,
        vec![
            ChatMessage { role: "user".into(), content: "How long is parental leave?".into() },
            ChatMessage { role: "assistant".into(), content: "Eighteen weeks, paid.".into() }
        ]
    );
    let kept = history.question(3).unwrap();
    assert_eq!((kept.record.routing.decision, kept.record.routing.expected_utilities.len(), kept.feedback), (RouteDecision::StayLocal, 0, Some(Feedback::Up)));

    // The failed call is filed with a zero cost and is not counted as an escalation.
    assert_eq!(day_spend(&history), vec![("2025-12-03".to_string(), 45_000, 1)]);
    assert_eq!(history.escalated().unwrap().iter().map(|q| q.id).collect::<Vec<_>>(), vec![2, 1]);
    let totals = history.totals(true, "").unwrap();
    assert_eq!((totals.answers, totals.escalated, totals.cost.nanos), (1, 1, 45_000), "the failed call is not an escalated answer");
    assert_eq!(history.in_month("2025-12").unwrap().len(), 3);
    still_takes_new_answers(&history, 1);
}

#[test]
fn a_schema_3_history_is_adopted_as_it_is() {
    let (_dir, path) = load(include_str!("fixtures/history/v3.sql"));
    let history = History::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(LATEST), 3));
    assert_eq!(history.count().unwrap(), 2);
    let asked = history.question(1).unwrap().record;
    let location = asked.citations[0].location.as_ref().unwrap();
    assert_eq!((location.page_start, location.page_label_start.as_deref()), (Some(5), Some("iv")));
    assert!(asked.escalation.as_ref().unwrap().usage_estimated);
    // Escalated on request three days after it was asked: charged on the day of the call.
    assert_eq!(day_spend(&history), vec![("2026-01-18".to_string(), 25_000, 1)]);
    assert_eq!(history.list(false, "coolant", 10).unwrap().iter().map(|q| q.id).collect::<Vec<_>>(), vec![2]);
    still_takes_new_answers(&history, 1);
    drop(history);

    // Opening again finds the version recorded and changes nothing.
    let history = History::open(&path).unwrap();
    assert_eq!(history.count().unwrap(), 3);
}

/// A step that fails is rolled back whole (its ALTER TABLE included), the adoption recorded in
/// its transaction with it, and the error names the file and the step.
#[test]
fn a_failing_step_leaves_the_history_as_it_was_and_names_the_file_and_the_step() {
    let (_dir, path) = load(include_str!("fixtures/history/v2.sql"));
    // Something in this file refuses step 3's backfill.
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TRIGGER refuse BEFORE UPDATE ON questions BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;")
        .unwrap();

    let error = History::open(&path).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, StoreError::Migration(automix_sqlite::migrate::MigrationError::Step { version: 3, step: "0003_escalated_at.sql", .. })),
        "{error:?}"
    );
    assert!(
        message.contains(&path.display().to_string()) && message.contains("0003_escalated_at.sql") && message.contains("refused by a test trigger"),
        "{message}"
    );

    let connection = Connection::open(&path).unwrap();
    assert!(!automix_sqlite::migrate::column_exists(&connection, "questions", "escalated_at_ms").unwrap(), "the ALTER TABLE was rolled back");
    assert_eq!(versions(&path), (None, 2), "nothing recorded: the next open adopts it again");
    assert_eq!(connection.query_row("SELECT count(*) FROM questions", [], |row| row.get::<_, i64>(0)).unwrap(), 3);

    connection.execute_batch("DROP TRIGGER refuse").unwrap();
    let history = History::open(&path).unwrap();
    assert_eq!(day_spend(&history), vec![("2025-12-03".to_string(), 45_000, 1)]);
}

#[test]
fn a_history_from_a_newer_automix_is_refused_untouched() {
    let (_dir, path) = load(include_str!("fixtures/history/v3.sql"));
    drop(History::open(&path).unwrap());
    Connection::open(&path).unwrap().execute("UPDATE schema_versions SET version = 9 WHERE name = 'history'", []).unwrap();
    let error = History::open(&path).unwrap_err();
    assert!(matches!(error, StoreError::Migration(automix_sqlite::migrate::MigrationError::TooNew { found: 9, supported: LATEST, .. })), "{error:?}");
    assert!(error.to_string().contains("newer than this AutoMix"), "{error}");
    assert_eq!(versions(&path), (Some(9), 3));
}
