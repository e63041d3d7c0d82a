//! Router decision latency (target ≤ 1 µs) and fit + exact solve on 10k rows (target ≤ 50 ms).
//! Baselines in the same run: AutoMix-T's single comparison, and sorting the 10k values once.

use std::hint::black_box;

use automix_router::{fit_calibration, two_model_pomdp, CalibrationOptions, LabelledSignals, ModelSpec, Signal, SignalValues, Smoothing, ThresholdRouter};
use criterion::{criterion_group, criterion_main, Criterion};

/// Deterministic pseudo-random rows (xorshift), weakly informative like a small model's signals.
fn synthetic_rows(count: usize) -> Vec<LabelledSignals> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..count)
        .map(|_| {
            let correct = uniform() < 0.3;
            let shift = if correct { 0.15 } else { 0.0 };
            LabelledSignals {
                signals: SignalValues {
                    v_logit: Some((uniform() + shift).min(1.0)),
                    answer_logprob: Some(-3.0 * uniform() + shift),
                    answer_tokens: Some((uniform() * 20.0).floor() + 1.0),
                    grounded: Some(uniform() < 0.4 + shift),
                    retrieval_score: Some(uniform()),
                    ..SignalValues::default()
                },
                correct,
            }
        })
        .collect()
}

fn spec(name: &str, cost: f64) -> ModelSpec {
    ModelSpec { name: name.to_owned(), call_cost: cost, verify_cost: 1.0 }
}

fn fit_and_solve(rows: &[LabelledSignals]) -> f64 {
    let calibration = fit_calibration(rows, &CalibrationOptions::default()).expect("rows are not empty");
    let pomdp = two_model_pomdp(&calibration, &Smoothing::default(), spec("slm", 1.0), spec("llm", 100.0), 0.85).expect("valid model");
    pomdp.solve(0.002).expected_cost
}

fn bench(c: &mut Criterion) {
    let rows = synthetic_rows(10_000);
    let calibration = fit_calibration(&rows, &CalibrationOptions::default()).expect("rows are not empty");
    let policy = two_model_pomdp(&calibration, &Smoothing::default(), spec("slm", 1.0), spec("llm", 100.0), 0.85).expect("valid model").solve(0.002).policy;
    let threshold = ThresholdRouter { signal: Signal::VLogit, threshold: 0.5 };
    let probes: Vec<SignalValues> = rows.iter().take(1024).map(|r| r.signals.clone()).collect();

    let mut group = c.benchmark_group("decide_1024_queries");
    group.bench_function("baseline_threshold", |b| b.iter(|| probes.iter().filter(|s| threshold.decide(black_box(s)) != automix_router::Action::Keep).count()));
    group.bench_function("pomdp_table_5_signals", |b| {
        b.iter(|| probes.iter().filter(|s| policy.decide_first(black_box(s)) != automix_router::Action::Keep).count())
    });
    group.finish();

    let mut group = c.benchmark_group("fit_and_solve_10k_rows");
    group.sample_size(20);
    group.bench_function("baseline_sort_values", |b| {
        b.iter(|| {
            let mut values: Vec<f64> = rows.iter().filter_map(|r| r.signals.v_logit).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        })
    });
    group.bench_function("fit_calibration_and_exact_solve", |b| b.iter(|| fit_and_solve(black_box(&rows))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
