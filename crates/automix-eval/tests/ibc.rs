//! ΔIBC on synthetic tables: random mixing scores 0, the oracle is maximal, and the whole harness
//! runs end to end from JSONL to markdown and SVG.

use automix_eval::curves::{oracle_curve, policy_point, random_mixing_curve};
use automix_eval::{
    delta_ibc, read_table, run_calibrate, run_eval, write_table, Anchors, CalibrateCommand, Calibration, CalibrationOptions, CostModel, EvalCommand,
    EvalOptions, RoutedQuery, RoutingRow, ScoredAnswer, Smoothing, TokenCounts,
};
use automix_router::{RoutingPolicy, Signal, SignalValues, ThresholdRouter};

/// Deterministic xorshift in [0, 1).
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Rows where the verifier and grounding are weakly informative about SLM correctness.
fn synthetic_rows(count: usize, seed: u64) -> Vec<RoutingRow> {
    let mut uniform = Uniform(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    (0..count)
        .map(|i| {
            let slm_correct = uniform.next() < 0.35;
            let llm_correct = uniform.next() < if slm_correct { 0.95 } else { 0.75 };
            let lift = if slm_correct { 0.25 } else { 0.0 };
            RoutingRow {
                id: format!("item-{i}"),
                dataset: "synthetic".to_owned(),
                question: format!("question {i}?"),
                slm: ScoredAnswer { model: "slm".to_owned(), answer: "a".to_owned(), score: f64::from(u8::from(slm_correct)), ..Default::default() },
                signals: SignalValues {
                    v_logit: Some((uniform.next() * 0.75 + lift).min(1.0)),
                    answer_logprob: Some(-2.0 * uniform.next() - 1.0 + lift),
                    answer_tokens: Some(1.0 + (uniform.next() * 10.0).floor()),
                    grounded: Some(uniform.next() < 0.3 + 2.0 * lift),
                    ..SignalValues::default()
                },
                tokens: TokenCounts { prompt: 300, generated: 5, verify: 40 },
                llm: vec![ScoredAnswer {
                    model: "gpt-4-0613".to_owned(),
                    answer: "b".to_owned(),
                    score: f64::from(u8::from(llm_correct)),
                    ..Default::default()
                }],
            }
        })
        .collect()
}

fn queries(rows: &[RoutingRow]) -> Vec<RoutedQuery> {
    rows.iter().map(|r| RoutedQuery { signals: r.signals.clone(), slm_score: r.slm.score, llm_score: r.llm[0].score, local_ms: None }).collect()
}

const COSTS: CostModel = CostModel { slm_cost: 1.0, verify_cost: 1.0, llm_cost: 100.0 };

#[test]
fn random_mixing_has_zero_delta_ibc() {
    let queries = queries(&synthetic_rows(300, 1));
    let anchors = Anchors::new(&queries, &COSTS);
    let delta = delta_ibc(&random_mixing_curve(&anchors, 7), &anchors, 5).unwrap();
    assert!(delta.mean.abs() < 1e-9, "{delta:?}");
    assert!(delta.per_region.iter().all(|d| d.abs() < 1e-9));
}

#[test]
fn oracle_delta_ibc_is_maximal_in_every_region() {
    let queries = queries(&synthetic_rows(300, 2));
    let anchors = Anchors::new(&queries, &COSTS);
    let oracle = delta_ibc(&oracle_curve(&queries, &COSTS), &anchors, 5).unwrap();
    assert!(oracle.mean > 0.0);
    let mut thresholds: Vec<_> = queries.iter().filter_map(|q| q.signals.v_logit).collect();
    thresholds.push(f64::INFINITY);
    let policies: Vec<RoutingPolicy> = thresholds
        .iter()
        .map(|&threshold| RoutingPolicy::Threshold(ThresholdRouter { signal: Signal::VLogit, threshold }))
        .chain([RoutingPolicy::AlwaysSlm, RoutingPolicy::AlwaysLlm])
        .collect();
    let points: Vec<_> = policies.iter().map(|p| policy_point(p, &queries, &COSTS)).collect();
    let threshold = delta_ibc(&points, &anchors, 5).unwrap();
    let random = delta_ibc(&random_mixing_curve(&anchors, 10), &anchors, 5).unwrap();
    for (r, o) in oracle.per_region.iter().enumerate() {
        assert!(*o >= threshold.per_region[r] - 1e-9, "region {r}: oracle {o} < threshold {}", threshold.per_region[r]);
        assert!(*o >= random.per_region[r] - 1e-9);
    }
    assert!(threshold.mean < oracle.mean);
}

#[test]
fn always_llm_and_always_slm_points_are_the_anchors() {
    let queries = queries(&synthetic_rows(50, 3));
    let anchors = Anchors::new(&queries, &COSTS);
    let llm = policy_point(&RoutingPolicy::AlwaysLlm, &queries, &COSTS);
    assert_eq!(llm, anchors.llm);
    let slm = policy_point(&RoutingPolicy::AlwaysSlm, &queries, &COSTS);
    assert_eq!(slm.performance, anchors.slm.performance);
    assert_eq!(slm.cost, 1.0, "always-SLM reads no verifier");
    let never = RoutingPolicy::Threshold(ThresholdRouter { signal: Signal::VLogit, threshold: f64::NEG_INFINITY });
    assert_eq!(policy_point(&never, &queries, &COSTS).cost, 2.0, "AutoMix-T pays the verifier");
    let missing = SignalValues::default();
    assert_ne!(never.decide(&missing), automix_router::Action::Keep, "a missing verifier value escalates");
}

#[test]
fn table_round_trips_and_eval_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("synthetic.jsonl");
    let rows = synthetic_rows(400, 4);
    write_table(&table, &rows).unwrap();
    assert!(read_table(&table).unwrap() == rows, "the table must round-trip exactly");

    let command = EvalCommand {
        tables: vec![table.clone()],
        options: EvalOptions { seeds: 3, ..EvalOptions::default() },
        svg: Some(dir.path().join("curves.svg")),
        markdown: Some(dir.path().join("eval.md")),
        calibration: None,
        replay: None,
    };
    let report = run_eval(&command).unwrap();
    let table_report = &report.tables[0];
    assert_eq!(table_report.usable_rows, 400);
    assert_eq!(table_report.llm_models, vec!["gpt-4-0613".to_owned()]);
    let delta = |name: &str| table_report.routers.iter().find(|r| r.router == name).unwrap().mean;
    assert!(delta("Random mixing").abs() < 1e-9);
    for router in &table_report.routers {
        assert!(router.mean <= delta("Oracle") + 1e-9, "{} beats the oracle", router.router);
    }
    assert!(delta("AutoMix-P") > 0.0, "informative signals should beat the baseline line");
    let v_auroc = table_report.signals.iter().find(|s| s.signal == Signal::VLogit).unwrap().auroc.unwrap();
    assert!(v_auroc > 0.6);

    let markdown = std::fs::read_to_string(dir.path().join("eval.md")).unwrap();
    assert!(markdown.contains("| AutoMix-P |") && markdown.contains("| v_logit |"), "{markdown}");
    let svg = std::fs::read_to_string(dir.path().join("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("AutoMix-T"));

    let out = dir.path().join("models/router/slm.json");
    let calibration = run_calibrate(&CalibrateCommand {
        tables: vec![table],
        out: out.clone(),
        options: CalibrationOptions { slm_model: "slm".to_owned(), ..CalibrationOptions::default() },
        select_signals: true,
        smoothing: Smoothing::default(),
    })
    .unwrap();
    assert_eq!(Calibration::load(&out).unwrap(), calibration);
    assert_eq!(calibration.rows, 400);
    let combiner = calibration.histograms[0].binning.combiner.as_ref().expect("the app's calibration combines its signals");
    let weight = |signal: Signal| combiner.weights[combiner.features.iter().position(|&s| s == signal).unwrap()];
    assert!(weight(Signal::VLogit) > 3.0 * weight(Signal::AnswerTokens).abs(), "the informative verifier outweighs noise: {combiner:?}");
}

#[test]
fn unknown_remote_model_is_reported_with_the_models_seen() {
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("t.jsonl");
    write_table(&table, &synthetic_rows(20, 5)).unwrap();
    let command = EvalCommand {
        tables: vec![table],
        options: EvalOptions { llm_model: "claude".to_owned(), ..EvalOptions::default() },
        svg: None,
        markdown: None,
        calibration: None,
        replay: None,
    };
    let message = run_eval(&command).unwrap_err().to_string();
    assert!(message.contains("gpt-4-0613") && message.contains("--llm-model"), "{message}");
}
