//! The pipeline's own overhead per escalated question, model time excluded: read the month's
//! standing and derive λ, reserve, settle, and record the history row — all on one SQLite file
//! in WAL mode, as the app runs them. Reported as p50/p99 and as a ratio to a baseline of one
//! bare single-row INSERT transaction on the same file, measured in the same run.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use automix_budget::{advise, worst_case_cost, BudgetSettings, Cost, CostPreference, Ledger};
use automix_history::{Citation, Escalation, History, LocalAnswer, QuestionRecord, RouteDecision, Routing};
use automix_types::{EscalationPayload, ModelPrice, PayloadChunk, Usage};
use criterion::{criterion_group, criterion_main, Criterion};
use rusqlite::Connection;

const PRICE: ModelPrice = ModelPrice { input_per_million: 0.15, output_per_million: 0.60 };
const PREFERENCE: CostPreference = CostPreference { neutral_lambda: 1.0, min_lambda: 0.25, max_lambda: 4.0 };

struct Fixture {
    _dir: tempfile::TempDir,
    ledger: Ledger,
    history: History,
    baseline: Connection,
    record: QuestionRecord,
    payload: EscalationPayload,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("automix.sqlite");
    let history = History::open(&path).unwrap();
    let ledger = Ledger::open(&path).unwrap();
    ledger.set_settings(&BudgetSettings { monthly_limit: Cost::from_units(1_000_000.0), currency: "USD".into(), per_answer_cap: None }).unwrap();
    let baseline = Connection::open(&path).unwrap();
    baseline.pragma_update(None, "synchronous", "NORMAL").unwrap();
    baseline.execute_batch("CREATE TABLE baseline (id INTEGER PRIMARY KEY, at INTEGER, text TEXT)").unwrap();
    let conversation = history.new_conversation("bench", 0).unwrap();
    let chunk_text = "A retrieved passage of about a hundred words. ".repeat(10);
    let payload = EscalationPayload {
        system_prompt: "Answer the question from the context only; say so when it is not there.".into(),
        question: "Who signed the agreement and when did it take effect?".into(),
        chunks: (0..4).map(|index| PayloadChunk { source: format!("contract-{index}.pdf"), text: chunk_text.clone() }).collect(),
        earlier_turns: Vec::new(),
    };
    let record = QuestionRecord {
        conversation_id: conversation,
        asked_at_ms: automix_budget::now_ms(),
        question: payload.question.clone(),
        citations: payload
            .chunks
            .iter()
            .map(|chunk| Citation { source: chunk.source.clone(), chunk_id: Some("c1".into()), text: chunk.text.clone(), score: 0.7, location: None })
            .collect(),
        local: LocalAnswer {
            model: "smollm2-135m".into(),
            text: "The parties signed in 2019.".into(),
            verifier_value: Some(0.3),
            latency_ms: 800,
            verify_latency_ms: 200,
        },
        routing: Routing {
            decision: RouteDecision::Escalate,
            reason: "the verifier doubts the local answer".into(),
            expected_utilities: BTreeMap::from([("local".into(), 0.31), ("escalate".into(), 0.58)]),
            lambda: Some(1.0),
            estimated_cost: None,
            local_confidence: None,
        },
        escalation: Some(Escalation {
            model: "gpt-4o-mini".into(),
            payload: payload.clone(),
            answer: Some("Acme and Beta signed it on 1 March 2019; it took effect on 1 April 2019.".into()),
            usage: Some(Usage { prompt_tokens: 700, completion_tokens: 40 }),
            usage_estimated: false,
            cost: PRICE.cost(700, 40),
            currency: "USD".into(),
            latency_ms: 1500,
            error: None,
        }),
        total_latency_ms: 2600,
    };
    Fixture { _dir: dir, ledger, history, baseline, record, payload }
}

fn pipeline_overhead(fixture: &Fixture) {
    let status = fixture.ledger.month_status().unwrap();
    let worst_case = worst_case_cost(&fixture.payload, 512, &PRICE);
    black_box(advise(&status, &PREFERENCE, worst_case));
    let reservation = fixture.ledger.reserve(worst_case, "bench").unwrap();
    reservation.settle(PRICE.cost(700, 40)).unwrap();
    black_box(fixture.history.record(&fixture.record).unwrap());
}

fn baseline_insert(fixture: &Fixture) {
    fixture.baseline.execute("INSERT INTO baseline (at, text) VALUES (?1, ?2)", rusqlite::params![1_i64, "row"]).unwrap();
}

fn percentile(sorted: &[Duration], quantile: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * quantile).round() as usize]
}

fn sample(fixture: &Fixture, operation: fn(&Fixture), runs: usize) -> Vec<Duration> {
    let mut durations: Vec<Duration> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            operation(fixture);
            started.elapsed()
        })
        .collect();
    durations.sort();
    durations
}

fn overhead(c: &mut Criterion) {
    let fixture = fixture();
    // Tail latency is what the ≤ 2 ms target is about; criterion reports means, so measure
    // the percentiles directly, interleaved with the baseline on the same file.
    const RUNS: usize = 3_000;
    sample(&fixture, pipeline_overhead, 200);
    let pipeline = sample(&fixture, pipeline_overhead, RUNS);
    let baseline = sample(&fixture, baseline_insert, RUNS);
    let (p50, p99) = (percentile(&pipeline, 0.50), percentile(&pipeline, 0.99));
    let (base50, base99) = (percentile(&baseline, 0.50), percentile(&baseline, 0.99));
    let within_target = pipeline.iter().filter(|duration| duration.as_secs_f64() <= 0.002).count();
    // On a shared machine, tail latency is mostly preemption; print the load to read p99 by.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "escalation overhead p90 {:.3} ms, p95 {:.3} ms, {:.2}% of runs ≤ 2 ms; load average: {}",
        percentile(&pipeline, 0.90).as_secs_f64() * 1e3,
        percentile(&pipeline, 0.95).as_secs_f64() * 1e3,
        100.0 * within_target as f64 / RUNS as f64,
        load.trim()
    );
    println!(
        "escalation overhead (λ + reserve + settle + history row), {RUNS} runs: p50 {:.3} ms, p99 {:.3} ms (target p99 ≤ 2 ms)",
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    println!(
        "baseline (one-row INSERT, same file): p50 {:.3} ms, p99 {:.3} ms; ratio p50 {:.1}x, p99 {:.1}x",
        base50.as_secs_f64() * 1e3,
        base99.as_secs_f64() * 1e3,
        p50.as_secs_f64() / base50.as_secs_f64(),
        p99.as_secs_f64() / base99.as_secs_f64()
    );

    let mut group = c.benchmark_group("escalation_overhead");
    group.bench_function("baseline_one_row_insert", |b| b.iter(|| baseline_insert(&fixture)));
    group.bench_function("lambda_reserve_settle_record", |b| b.iter(|| pipeline_overhead(&fixture)));
    group.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
