//! Reserve → remote call → settle → record, against the test provider with injected faults:
//! what each outcome charges, and that the API key leaks into nothing we keep.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use automix_budget::{worst_case_cost, BudgetSettings, Cost, Ledger};
use automix_history::{Citation, Escalation, History, LocalAnswer, QuestionRecord, RouteDecision, Routing};
use automix_remote::{ApiKey, EscalationPayload, ModelPrice, PayloadChunk, RemoteClient, RemoteError, RemoteSettings};
use automix_test_remote::{default_data_dir, AnswerBook, Fault, TestServer};

const KEY: &str = "sk-flow-SECRET-91b2c7d4e5";
const PRICE: ModelPrice = ModelPrice { input_per_million: 0.15, output_per_million: 0.60 };
const MAX_TOKENS: u32 = 256;

struct Scenario {
    name: &'static str,
    faults: Vec<Fault>,
    expect_requests: usize,
    expect_ok: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_is_charged_as_specified_and_the_key_stays_secret() {
    let book = Arc::new(AnswerBook::load(&default_data_dir()).expect("shared data (set AUTOMIX_SHARED_DATA)"));
    let (question, recorded) = book.known_questions().into_iter().next().unwrap();
    let server = TestServer::start(book, 0).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // History and ledger share one file, as the app does.
    let db_path = dir.path().join("automix.sqlite");
    let history = History::open(&db_path).unwrap();
    let ledger = Ledger::open(&db_path).unwrap();
    ledger.set_settings(&BudgetSettings { monthly_limit: Cost::from_units(1.0), currency: "USD".into(), per_answer_cap: None }).unwrap();
    let conversation = history.new_conversation("flow", 0).unwrap();

    let mut settings = RemoteSettings::new(server.base_url(), "gpt-4o-mini");
    settings.backoff_base_ms = 5;
    settings.max_attempts = 3;
    settings.price = Some(PRICE);
    let client = RemoteClient::new(settings, Some(ApiKey::new(KEY))).unwrap();
    let payload = EscalationPayload {
        system_prompt: "Answer from the context only.".into(),
        question: question.clone(),
        chunks: vec![PayloadChunk { source: "story.txt".into(), text: "A retrieved passage.".into() }],
        earlier_turns: Vec::new(),
    };

    let scenarios = [
        Scenario { name: "answer", faults: vec![], expect_requests: 1, expect_ok: true },
        Scenario { name: "missing usage", faults: vec![Fault::MissingUsage], expect_requests: 1, expect_ok: true },
        Scenario { name: "429 then answer", faults: vec![Fault::TooManyRequests { retry_after_secs: 0 }], expect_requests: 2, expect_ok: true },
        Scenario { name: "500 exhausted", faults: vec![Fault::ServerError; 3], expect_requests: 3, expect_ok: false },
        Scenario { name: "401", faults: vec![Fault::Unauthorized], expect_requests: 1, expect_ok: false },
        Scenario { name: "disconnect", faults: vec![Fault::DisconnectMidStream], expect_requests: 1, expect_ok: false },
        Scenario { name: "malformed", faults: vec![Fault::MalformedSse], expect_requests: 1, expect_ok: false },
        Scenario { name: "html", faults: vec![Fault::WrongContentType], expect_requests: 1, expect_ok: false },
    ];

    let mut log = String::new();
    let mut total_charged = Cost::ZERO;
    let no_cancel = Arc::new(AtomicBool::new(false));
    for scenario in &scenarios {
        let before = server.request_count();
        server.push_faults(scenario.faults.clone());
        let worst_case = worst_case_cost(&payload, MAX_TOKENS, &PRICE);
        let reservation = ledger.reserve(worst_case, scenario.name).unwrap();
        let outcome = client.chat_stream(&payload, MAX_TOKENS, |_| {}, &mut |_| {}, &no_cancel).await;
        let charged = reservation.settle_outcome(outcome.as_ref().ok().map(|answer| answer.usage), &PRICE).unwrap();
        log.push_str(&format!("{}: {outcome:?}\n", scenario.name));

        assert_eq!(server.request_count() - before, scenario.expect_requests, "{}", scenario.name);
        assert_eq!(outcome.is_ok(), scenario.expect_ok, "{}: {outcome:?}", scenario.name);
        match &outcome {
            Ok(answer) => {
                assert_eq!(answer.text, recorded, "{}", scenario.name);
                assert_eq!(answer.usage_estimated, scenario.name == "missing usage");
                assert_eq!(charged, PRICE.cost(answer.usage.prompt_tokens, answer.usage.completion_tokens));
                assert!(charged > Cost::ZERO && charged <= worst_case, "{}: {charged} vs {worst_case}", scenario.name);
            }
            Err(error) => {
                log.push_str(&format!("{}: {error}\n", scenario.name));
                assert_eq!(charged, Cost::ZERO, "{}: failures charge nothing the provider did not report", scenario.name);
            }
        }
        total_charged = total_charged.saturating_add(charged);

        let record = QuestionRecord {
            conversation_id: conversation,
            asked_at_ms: automix_budget::now_ms(),
            question: question.clone(),
            citations: vec![Citation { source: "story.txt".into(), chunk_id: None, text: "A retrieved passage.".into(), score: 0.8, location: None }],
            local: LocalAnswer { model: "smollm2".into(), text: "local".into(), verifier_value: Some(0.2), latency_ms: 10, verify_latency_ms: 5 },
            routing: Routing {
                decision: RouteDecision::Escalate,
                reason: "verifier doubts the local answer".into(),
                expected_utilities: BTreeMap::from([("local".to_string(), 0.2), ("escalate".to_string(), 0.6)]),
                lambda: Some(1.0),
                estimated_cost: Some(worst_case),
                local_confidence: None,
            },
            escalation: Some(Escalation {
                model: "gpt-4o-mini".into(),
                payload: payload.clone(),
                answer: outcome.as_ref().ok().map(|answer| answer.text.clone()),
                usage: outcome.as_ref().ok().map(|answer| answer.usage),
                usage_estimated: outcome.as_ref().is_ok_and(|answer| answer.usage_estimated),
                cost: charged,
                currency: "USD".into(),
                latency_ms: outcome.as_ref().map_or(0, |answer| answer.latency_ms),
                error: outcome.as_ref().err().map(RemoteError::to_string),
            }),
            total_latency_ms: 20,
        };
        let id = history.record(&record).unwrap();
        log.push_str(&format!("{:?}\n{}\n", history.question(id).unwrap(), serde_json::to_string(&record).unwrap()));
    }

    let status = ledger.month_status().unwrap();
    assert_eq!(status.settled, total_charged);
    assert_eq!(status.reserved, Cost::ZERO);
    let month_spend: i64 = history.spend_per_month().unwrap().iter().map(|spend| spend.cost.nanos).sum();
    assert_eq!(month_spend, total_charged.nanos);
    assert_eq!(history.escalated().unwrap().len(), scenarios.len());

    // The key did go out, in the Authorization header only...
    assert!(server.received().iter().all(|request| request.authorization.as_deref() == Some(&format!("Bearer {KEY}")[..])));
    assert!(server.received().iter().all(|request| !request.body.to_string().contains(KEY)));
    // ...and appears in none of our artefacts: the log, the database and its WAL.
    let log_path = dir.path().join("flow.log");
    std::fs::write(&log_path, &log).unwrap();
    drop(history);
    drop(ledger);
    let mut artefacts = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(KEY.len()).any(|window| window == KEY.as_bytes()), "the API key leaked into {}", path.display());
        artefacts += 1;
    }
    assert!(artefacts >= 2, "expected the log and the database to be checked");
    assert!(log.contains("Incorrect API key provided: <redacted>"), "the 401 message should be kept, scrubbed");
}
