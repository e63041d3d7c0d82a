//! What the log says about one question, on the real SmolLM2 and the test provider: a `question`
//! span with a child span per stage (retrieve, answer, verify, route), the router's decision and
//! its reason as an event of the route span, and for an escalated question the remote call and
//! the settling of its reservation; never the question, the documents or the answers.

mod common;

use common::{open_assistant, set_budget};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use automix::assistant::{Assistant, Scope};
use automix_test_remote::{default_data_dir, AnswerBook, Fault, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");
const QUESTION: &str = "Who designed the Eiffel Tower?";

/// Asks `QUESTION` about france.md with a subscriber that writes what it logs (info and up) into
/// a buffer, as the app's log file would have it; returns the answer's id and the log.
fn ask_logged(assistant: &Assistant, conversation: i64) -> (Result<i64, String>, String) {
    let buffer = Arc::new(Mutex::new(Vec::<u8>::new()));
    let writer = buffer.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::INFO).with_ansi(false).without_time().with_writer(move || Writer(writer.clone())).finish();
    let scope = Scope::Text { source: "france.md".into(), text: FRANCE.into() };
    let result = tracing::subscriber::with_default(subscriber, || {
        // As text: `AskError` is too large for clippy to let it out of a closure.
        assistant.ask(QUESTION, &scope, conversation, &mut |_| {}, &Arc::new(AtomicBool::new(false))).map_err(|error| error.to_string())
    });
    let log = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
    eprintln!("--- log of one question ---\n{log}");
    (result, log)
}

struct Writer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The one line whose span path ends in `span` (e.g. `route{`) and whose message is `message`.
fn line<'a>(log: &'a str, span: &str, message: &str) -> &'a str {
    log.lines()
        .find(|line| line.contains(&format!(":{span}")) && line.contains(message))
        .unwrap_or_else(|| panic!("no line of span {span:?} saying {message:?} in:\n{log}"))
}

/// The stages every question goes through, each inside the question's span.
fn assert_local_stages(log: &str, conversation: i64) {
    let question = format!("question{{conversation_id={conversation}");
    for (span, message) in [("retrieve{", "retrieved"), ("answer{", "answered locally"), ("verify{", "verified"), ("route{", "routed")] {
        let found = line(log, span, message);
        assert!(found.trim_start().starts_with("INFO") && found.contains(&question), "{span} inside the question span: {found}");
    }
    let retrieve = line(log, "retrieve{", "retrieved");
    assert!(
        retrieve.contains("scope=\"text\"") && retrieve.contains("hits=1") && retrieve.contains("tokens=") && retrieve.contains("latency_ms="),
        "{retrieve}"
    );
    let answer = line(log, "answer{", "answered locally");
    assert!(answer.contains("model=") && answer.contains("prompt_tokens=") && answer.contains("tokens=") && answer.contains("latency_ms="), "{answer}");
    let verify = line(log, "verify{", "verified");
    assert!(verify.contains(" v=") && verify.contains("grounded=") && verify.contains("latency_ms="), "{verify}");
    let done = log.lines().find(|line| line.contains("question answered and recorded")).unwrap_or_else(|| panic!("no closing line in:\n{log}"));
    assert!(done.contains("question_id=") && done.contains("decision=") && done.contains("cost=") && done.contains("latency_ms="), "{done}");
    // Nothing of the question, the document or an answer.
    for private in [QUESTION, "Eiffel", "Mont Blanc", "Gustave"] {
        assert!(!log.contains(private), "{private:?} is in the log:\n{log}");
    }
}

#[test]
fn a_question_logs_a_span_per_stage_with_the_decision_and_its_reason() {
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    let conversation = assistant.history().new_conversation("France", 0).unwrap();

    // No budget: it stays local, and says why.
    set_budget(&assistant, 0.0);
    let (result, log) = ask_logged(&assistant, conversation);
    result.unwrap();
    assert_local_stages(&log, conversation);
    let routed = line(&log, "route{", "routed");
    assert!(routed.contains("decision=\"stay_local_budget\""), "{routed}");
    assert!(routed.contains("reason=") && routed.contains("budget"), "the reason is in the event: {routed}");
    assert!(routed.contains("estimated_cost=") && routed.contains("local_confidence="), "{routed}");
    assert!(!log.contains(":escalate{") && !log.contains(":settle{"), "nothing went out:\n{log}");

    // A budget: it escalates; the remote call and the settled reservation are logged.
    set_budget(&assistant, 1.0);
    let (result, log) = ask_logged(&assistant, conversation);
    let id = result.unwrap();
    assert_local_stages(&log, conversation);
    assert!(line(&log, "route{", "routed").contains("decision=\"escalate\""), "{log}");
    let escalated = line(&log, "escalate{", "the remote model answered");
    assert!(escalated.contains("decision=\"escalate\""), "the question's span has the decision: {escalated}");
    for field in ["model=\"gpt-4o-mini\"", "estimated_cost=", "reservation=", "prompt_tokens=", "completion_tokens=", "latency_ms="] {
        assert!(escalated.contains(field), "{field} in {escalated}");
    }
    let settled = line(&log, "settle{", "reservation closed");
    assert!(settled.contains("outcome=\"settled\"") && settled.contains("charged="), "{settled}");
    let charged = assistant.history().question(id).unwrap().record.escalation.unwrap().cost.as_units();
    assert!(charged > 0.0 && settled.contains(&format!("charged={charged:?}")), "the charge the history has: {charged} in {settled}");
    assert!(log.contains(&format!("question_id={id}")), "{log}");

    // A failing provider: a warning, and the reservation is released.
    server.push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError, Fault::ServerError]);
    let (result, log) = ask_logged(&assistant, conversation);
    result.unwrap();
    let failed = line(&log, "escalate{", "the remote model failed");
    assert!(failed.trim_start().starts_with("WARN"), "{failed}");
    let released = line(&log, "settle{", "reservation closed");
    assert!(released.contains("outcome=\"released\"") && released.contains("charged=0"), "{released}");
}
