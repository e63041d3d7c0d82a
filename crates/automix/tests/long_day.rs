//! A long day of use: 300 questions through `Assistant::ask` in one process, on the real models, a
//! small library of three documents and the test remote server (so some answers escalate). The
//! questions vary: several conversations with follow-ups, the whole library, one chosen document,
//! all of them chosen, and a given text. Resident memory after the last question must stay within
//! 10% of what it was after the 50th: whatever a question leaves behind (caches, history, buffers)
//! must not pile up over a day.
//!
//! Prints the resident memory after load and every 25 questions, the time per question and how
//! many answers escalated (`cargo test --release -p automix --test long_day -- --nocapture`).

mod common;

use common::open_assistant;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use automix::assistant::{AnswerSource, AskEvent, AssistantConfig, Scope};
use automix::budget::BudgetSettings;
use automix::docs::IndexOptions;
use automix::remote::Cost;
use automix_test_remote::{default_data_dir, AnswerBook, TestServer};

const FRANCE: &str = include_str!("../assets/france.md");

const HARBOUR: &str = "# Vardømoen harbour

Vardømoen is a small harbour town in northern Norway. Its harbour master, Sigrid Aune, logs every
ferry that docks after dusk in a red ledger kept in the harbour office.

The coastal ferry calls twice a day, at 07:40 and at 19:15, and the crossing to the island of
Skarvøy takes forty minutes. In winter the evening ferry is cancelled when the wind passes 20
metres per second.

The harbour has 112 berths for small boats. A berth costs 1,900 kroner a season, and the waiting
list is about three years long. The fish auction opens at six in the morning from Monday to
Friday; cod is sold first, then haddock and saithe.

The lighthouse on the breakwater was built in 1904 and automated in 1978. Its light flashes white
every ten seconds and can be seen 14 nautical miles out to sea.
";

const GARDEN: &str = "# The allotment garden on Linden Road

The Linden Road allotments opened in 1962 and have 48 plots, each ten metres by twenty. A plot
costs 35 pounds a year, and the gate is locked at nine in the evening.

The committee meets on the first Sunday of every month in the green shed by the pond. Its chair is
Harold Pemberton, a retired postman who grows prize-winning leeks. The secretary, Amira Khan,
keeps the waiting list, which has 61 names on it.

Every plot holder must keep at least two thirds of the plot under cultivation. Bonfires are allowed
only in November. Water comes from four troughs filled by a rainwater tank holding 5,000 litres.

The annual show is held on the last Saturday of August. Prizes are given for the heaviest marrow,
the longest runner bean and the best jar of jam; in 2023 the marrow prize went to a marrow of
18 kilograms.
";

/// Questions about each document: (document index, question). Follow-ups lean on the question
/// before them in the same conversation.
const QUESTIONS: &[(usize, &str)] = &[
    (0, "What is the capital of France?"),
    (0, "Which river does Paris lie on?"),
    (0, "How many people live in France?"),
    (0, "What is the official language of France?"),
    (0, "Which currency does France use?"),
    (0, "When did the euro replace the franc?"),
    (0, "When was the Eiffel Tower built?"),
    (0, "What is the highest mountain in Western Europe?"),
    (0, "How high is Mont Blanc?"),
    (0, "Which large cities are there in France besides Paris?"),
    (0, "Which country is on the other side of Mont Blanc?"),
    (0, "What is the most visited paid monument in the world?"),
    (0, "For which event was the Eiffel Tower built?"),
    (0, "Is Lyon a large city in France?"),
    (0, "Where is France?"),
    (0, "What did the French use as money before the euro?"),
    (1, "Who is the harbour master of Vardømoen?"),
    (1, "Where does the harbour master log the ferries?"),
    (1, "When does the coastal ferry call?"),
    (1, "How long is the crossing to Skarvøy?"),
    (1, "When is the evening ferry cancelled?"),
    (1, "How many berths does the harbour have?"),
    (1, "How much does a berth cost for a season?"),
    (1, "How long is the waiting list for a berth?"),
    (1, "When does the fish auction open?"),
    (1, "Which fish is sold first at the auction?"),
    (1, "When was the lighthouse built?"),
    (1, "When was the lighthouse automated?"),
    (1, "How often does the lighthouse flash?"),
    (1, "How far out to sea can the light be seen?"),
    (1, "In which country is Vardømoen?"),
    (1, "What colour is the harbour ledger?"),
    (2, "When did the Linden Road allotments open?"),
    (2, "How many plots are there?"),
    (2, "How big is a plot?"),
    (2, "How much does a plot cost a year?"),
    (2, "When is the gate locked?"),
    (2, "When does the committee meet?"),
    (2, "Who chairs the committee?"),
    (2, "What does the chair grow?"),
    (2, "Who keeps the waiting list?"),
    (2, "How many names are on the waiting list?"),
    (2, "How much of a plot must be cultivated?"),
    (2, "When are bonfires allowed?"),
    (2, "Where does the water come from?"),
    (2, "How much does the rainwater tank hold?"),
    (2, "When is the annual show held?"),
    (2, "Which prizes are given at the show?"),
    (2, "How heavy was the winning marrow in 2023?"),
    (2, "Where does the committee meet?"),
];

/// Follow-ups, asked right after a question in the same conversation.
const FOLLOW_UPS: &[&str] = &[
    "And why is that?",
    "Can you say more about it?",
    "When was that?",
    "Who else is mentioned there?",
    "Is that still true today?",
    "What about the rest of it?",
    "How do you know?",
    "Where exactly?",
    "And how much does that cost?",
    "Is there anything else?",
    "Which part of the text says so?",
    "How many are there?",
    "Who decided that?",
    "Does that ever change?",
    "Can you repeat that in other words?",
];

/// Ways of asking the same thing, so that 300 questions are 300 different strings.
const PHRASINGS: &[&str] = &["{}", "Briefly: {}", "From the documents, {}", "Please tell me: {}", "Quick question. {}", "I was wondering, {}"];

const QUESTION_COUNT: usize = 300;

/// A new conversation every this many questions.
const CONVERSATION_LENGTH: usize = 12;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The question asked `n`-th (0-based): its text, the document it is about and whether it follows
/// up the one before.
fn question(n: usize) -> (String, usize, bool) {
    let in_conversation = n % CONVERSATION_LENGTH;
    // Every fourth question of a conversation (not its first) is a follow-up.
    if in_conversation % 4 == 3 {
        let (document, _) = QUESTIONS[(n - 1) % QUESTIONS.len()];
        // The how-manieth follow-up of the day: each a different (follow-up, phrasing) pair.
        let ordinal = n / CONVERSATION_LENGTH * (CONVERSATION_LENGTH / 4) + in_conversation / 4;
        let text = FOLLOW_UPS[ordinal % FOLLOW_UPS.len()];
        let phrasing = PHRASINGS[(ordinal / FOLLOW_UPS.len()) % PHRASINGS.len()];
        return (phrasing.replace("{}", text), document, true);
    }
    let (document, text) = QUESTIONS[n % QUESTIONS.len()];
    let phrasing = PHRASINGS[(n / QUESTIONS.len()) % PHRASINGS.len()];
    (phrasing.replace("{}", text), document, false)
}

#[test]
fn three_hundred_questions_leave_resident_memory_within_ten_percent_of_the_fiftieth() {
    let started = Instant::now();
    let server = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let assistant = open_assistant(&dir, &server);
    // A budget, so the router may escalate what it rates weak; gpt-4o-mini costs fractions of a cent.
    let budget = BudgetSettings { monthly_limit: Cost::from_units(5.0), currency: "USD".into(), per_answer_cap: None };
    assistant.ledger().set_settings(&budget).unwrap();

    let texts = [("france.md", FRANCE), ("harbour.md", HARBOUR), ("garden.md", GARDEN)];
    let files: Vec<PathBuf> = texts
        .iter()
        .map(|(name, text)| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect();
    let never = Arc::new(AtomicBool::new(false));
    assistant.library().add_paths(&assistant.embedder().unwrap(), &files, &IndexOptions::default(), &mut |_| {}, &never).unwrap();
    let documents = assistant.documents().unwrap();
    let document_id =
        |name: &str| documents.iter().find(|d| d.path.ends_with(name)).unwrap_or_else(|| panic!("{name} is not in the library: {documents:?}")).id;
    let ids: Vec<i64> = texts.iter().map(|(name, _)| document_id(name)).collect();
    let after_load = rss_kib();
    let loaded_in = started.elapsed();

    let mut distinct = std::collections::HashSet::new();
    let config = assistant.config();
    let (mut escalated, mut escalated_by_hand, mut remote_failed, mut samples) = (0usize, 0usize, 0usize, Vec::new());
    let (mut local_time, mut remote_time) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let mut conversation = 0;
    let asking = Instant::now();
    let mut after_50 = 0;
    for n in 0..QUESTION_COUNT {
        if n % CONVERSATION_LENGTH == 0 {
            conversation = assistant.new_conversation(&format!("long day {}", n / CONVERSATION_LENGTH + 1)).unwrap();
        }
        let (text, document, follow_up) = question(n);
        distinct.insert(text.clone());
        // Mostly the whole library; every third question one chosen document, every fifth all three
        // chosen, every eleventh the document given as text (as `automix ask --context` does).
        // A follow-up keeps the scope of the question before, as a person in the chat would.
        let pick = if follow_up { n - 1 } else { n };
        let scope = if pick % 11 == 10 {
            Scope::Text { source: texts[document].0.into(), text: texts[document].1.into() }
        } else if pick % 3 == 1 {
            Scope::Documents(vec![ids[document]])
        } else if pick % 5 == 2 {
            Scope::Documents(ids.clone())
        } else {
            Scope::Library
        };
        // Escalation is switched on for every third question (the settings' "never escalate" off),
        // so a share of the day's answers goes to the remote model and the rest stays local.
        let escalation_on = n % 3 == 0;
        assistant.set_config(AssistantConfig { never_escalate: !escalation_on, ..config.clone() });
        let mut done = None;
        let mut routed_at = None;
        let question_started = Instant::now();
        let id = assistant
            .ask(
                &text,
                &scope,
                conversation,
                &mut |event| match event {
                    AskEvent::Routed { .. } => routed_at = Some(Instant::now()),
                    AskEvent::Done { answer, source, .. } => done = Some((answer, source)),
                    AskEvent::RemoteFailed { .. } => remote_failed += 1,
                    _ => {}
                },
                &never,
            )
            .unwrap_or_else(|e| panic!("question {} ({text:?}) failed: {e}", n + 1));
        let (answer, source) = done.unwrap_or_else(|| panic!("question {} ({text:?}) ended without an answer", n + 1));
        assert!(!answer.trim().is_empty(), "question {} ({text:?}) got an empty answer", n + 1);
        let routed_at = routed_at.expect("a Routed event");
        local_time += routed_at - question_started;
        if source == AnswerSource::Remote {
            escalated += 1;
            remote_time += routed_at.elapsed();
        } else if n % 20 == 19 {
            // Now and then the user asks the remote model about a local answer.
            let asked_at = Instant::now();
            let view = assistant.escalate(id, &mut |_| {}, &never).unwrap_or_else(|e| panic!("escalating question {} ({text:?}) failed: {e}", n + 1));
            assert!(view.remote_answer.is_some(), "question {} escalated by hand has no remote answer: {view:?}", n + 1);
            escalated_by_hand += 1;
            remote_time += asked_at.elapsed();
        }
        if (n + 1) % 25 == 0 {
            samples.push((n + 1, rss_kib(), asking.elapsed()));
        }
        if n + 1 == 50 {
            after_50 = rss_kib();
        }
    }
    let after_last = rss_kib();
    let asked_in = asking.elapsed();

    let per_question_ms = asked_in.as_secs_f64() * 1000.0 / QUESTION_COUNT as f64;
    eprintln!("long day: models and library loaded in {:.1} s, resident {:.1} MiB", loaded_in.as_secs_f64(), mib(after_load));
    for (n, rss, at) in &samples {
        eprintln!("long day: after {n:>3} questions ({:>6.1} s): resident {:.1} MiB", at.as_secs_f64(), mib(*rss));
    }
    eprintln!(
        "long day: {QUESTION_COUNT} questions ({} distinct, {escalated} escalated by the router, {escalated_by_hand} by hand, {remote_failed} remote failures) \
         in {:.1} s, {per_question_ms:.0} ms per question (local answer and checks {:.0} ms, remote {:.0} ms per escalation); \
         resident after load {:.1} MiB, after the 50th {:.1} MiB, after the {QUESTION_COUNT}th {:.1} MiB ({:+.1}%); total {:.1} s",
        distinct.len(),
        asked_in.as_secs_f64(),
        local_time.as_secs_f64() * 1000.0 / QUESTION_COUNT as f64,
        remote_time.as_secs_f64() * 1000.0 / (escalated + escalated_by_hand).max(1) as f64,
        mib(after_load),
        mib(after_50),
        mib(after_last),
        (after_last as f64 / after_50 as f64 - 1.0) * 100.0,
        started.elapsed().as_secs_f64(),
    );
    let stored = assistant.history().list(false, "", QUESTION_COUNT + 1).unwrap();
    let mean = |f: &dyn Fn(&automix::history::StoredQuestion) -> u64| stored.iter().map(f).sum::<u64>() as f64 / stored.len().max(1) as f64;
    eprintln!(
        "long day: as recorded, per question: answer {:.0} ms, checks {:.0} ms, whole question {:.0} ms",
        mean(&|q| q.record.local.latency_ms),
        mean(&|q| q.record.local.verify_latency_ms),
        mean(&|q| q.record.total_latency_ms),
    );
    assert_eq!(distinct.len(), QUESTION_COUNT, "every question is a different string");
    assert_eq!(assistant.history_page(false, "").unwrap().count, QUESTION_COUNT, "every answer is in the history");
    assert!(
        after_last as f64 <= after_50 as f64 * 1.10,
        "resident memory grew from {:.1} MiB after the 50th question to {:.1} MiB after the {QUESTION_COUNT}th (more than 10%); every 25 questions: {:?}",
        mib(after_50),
        mib(after_last),
        samples.iter().map(|(n, rss, _)| (*n, format!("{:.1} MiB", mib(*rss)))).collect::<Vec<_>>(),
    );
}
