//! "At the remote model's quality": the setting chosen on training rows and what it saves on test
//! rows; deciding before answering pays the large model only and saves the local wait.

use automix_eval::curves::{policy_point, quality_matched, remote_share, wait_saved_per_escalation_ms};
use automix_eval::evaluate::{AUTOMIX_P, AUTOMIX_P_BEFORE_ANSWERING};
use automix_eval::{evaluate, CostModel, EvalOptions, NamedTable, RoutedQuery, RoutingRow, ScoredAnswer, TokenCounts};
use automix_router::{LabelledSignals, PreAnswerModel, PreAnswerPolicy, RoutingPolicy, Signal, SignalValues, ThresholdRouter};

const COSTS: CostModel = CostModel { slm_cost: 1.0, verify_cost: 1.0, llm_cost: 100.0 };

fn query(v: f64, slm: f64, llm: f64) -> RoutedQuery {
    RoutedQuery { signals: SignalValues { v_logit: Some(v), ..Default::default() }, slm_score: slm, llm_score: llm, local_ms: Some(400.0) }
}

#[test]
fn the_least_escalating_setting_that_keeps_the_remote_quality_on_training_rows_is_measured_on_test_rows() {
    let threshold = |t: f64| RoutingPolicy::Threshold(ThresholdRouter { signal: Signal::VLogit, threshold: t });
    let policies = [threshold(0.0), threshold(0.5), threshold(0.85), threshold(f64::INFINITY)];
    // The verifier separates right from wrong local answers on the training rows.
    let train = [query(0.9, 1.0, 1.0), query(0.8, 1.0, 1.0), query(0.2, 0.0, 1.0), query(0.1, 0.0, 1.0)];
    // On the test rows one wrong local answer looks sure of itself.
    let test = [query(0.9, 1.0, 1.0), query(0.7, 0.0, 1.0), query(0.3, 0.0, 1.0), query(0.6, 1.0, 1.0)];
    let matched = quality_matched(&policies, &train, &test, &COSTS, 0.01);
    // Threshold 0.5 is the least escalating one within a point on training rows (keeping nothing
    // wrong); on the test rows it escalates one of four and loses the 0.7 row.
    assert_eq!(matched.calls_saved, 0.75);
    assert!((matched.performance_gap + 0.25).abs() < 1e-12, "{matched:?}");
    assert_eq!(matched.wait_saved_ms, Some(0.0), "a cascade always waits for the local answer");
    assert_eq!(remote_share(&policies[3], &test), 1.0);
}

#[test]
fn escalating_before_answering_pays_the_large_model_only_and_saves_the_local_wait() {
    let rows: Vec<LabelledSignals> = (0..40)
        .map(|i| LabelledSignals { signals: SignalValues { retrieval_score: Some(f64::from(i) / 40.0), ..Default::default() }, correct: i >= 20 })
        .collect();
    let judged: Vec<(&SignalValues, bool)> = rows.iter().map(|r| (&r.signals, true)).collect();
    let model = PreAnswerModel::fit(&rows, &judged, 2).unwrap();
    // The hard half (bin 0) goes at once, the easy half through a cascade that keeps everything.
    let cascade = automix_router::Pomdp::new(
        vec![
            automix_router::ModelSpec { name: "slm".into(), call_cost: 1.0, verify_cost: 1.0 },
            automix_router::ModelSpec { name: "llm".into(), call_cost: 100.0, verify_cost: 0.0 },
        ],
        vec![automix_router::ObservationModel::from_histograms(&[], &Default::default())],
        automix_router::JointPrior::independent(&[0.5, 0.9]).unwrap(),
    )
    .unwrap();
    // At λ = 1 a remote call (100) costs more than any gain (≤ 1): the cascade keeps every answer.
    let keep_all = cascade.solve(1.0).policy;
    let policy = RoutingPolicy::PreAnswer(PreAnswerPolicy { model, escalate_at_once: vec![true, false], cascades: vec![keep_all.clone(), keep_all] });
    let hard =
        RoutedQuery { signals: SignalValues { retrieval_score: Some(0.05), ..Default::default() }, slm_score: 0.0, llm_score: 1.0, local_ms: Some(600.0) };
    let easy = RoutedQuery { signals: SignalValues { retrieval_score: Some(0.95), ..Default::default() }, ..hard.clone() };
    assert!(policy.skips_slm(&hard.signals) && !policy.skips_slm(&easy.signals));
    let point = policy_point(&policy, std::slice::from_ref(&hard), &COSTS);
    assert_eq!((point.cost, point.performance), (100.0, 1.0), "no local answer, no verification: the large model only");
    assert_eq!(wait_saved_per_escalation_ms(&policy, &[hard, easy]), Some(600.0));
}

/// Rows where the question's own retrieval score says whether the local model will be right.
fn rows(count: usize) -> Vec<RoutingRow> {
    (0..count)
        .map(|i| {
            let retrieval = (i * 37 % count) as f64 / count as f64;
            let slm_right = retrieval > 0.5;
            RoutingRow {
                id: format!("q{i}"),
                dataset: "synthetic".into(),
                question: if i % 2 == 0 { format!("Who wrote part {i}?") } else { format!("Why did part {i} change?") },
                slm: ScoredAnswer { model: "slm".into(), answer: "a".into(), score: f64::from(u8::from(slm_right)), latency_ms: Some(500), call: None },
                signals: SignalValues {
                    v_logit: Some(if (i * 7) % 3 == 0 { 0.8 } else { 0.3 }),
                    retrieval_score: Some(retrieval),
                    answer_tokens: Some((i % 9) as f64),
                    ..Default::default()
                },
                tokens: TokenCounts::default(),
                llm: vec![ScoredAnswer { model: "remote".into(), answer: "b".into(), score: f64::from(u8::from(i % 10 != 0)), ..Default::default() }],
            }
        })
        .collect()
}

#[test]
fn the_harness_reports_calls_saved_and_the_wait_saved_before_answering() {
    let table = NamedTable { name: "synthetic".into(), rows: rows(200) };
    // A local attempt worth a tenth of a remote call: skipping it pays where the local model is
    // almost surely wrong (at a ratio of 100 only below about 2% right, which shrunk bins never say).
    let report = evaluate(&[table], &EvalOptions { seeds: 3, cost_ratio: 10.0, llm_model: "remote".into(), ..Default::default() }).unwrap();
    let table = &report.tables[0];
    let matched = |router: &str| table.at_remote_quality.iter().find(|m| m.calls_saved.router == router).unwrap_or_else(|| panic!("{router}"));
    let before = matched(AUTOMIX_P_BEFORE_ANSWERING);
    assert!(before.wait_saved_ms.as_ref().unwrap().mean > 0.0, "hard questions go at once: {before:?}");
    assert_eq!(matched(AUTOMIX_P).wait_saved_ms.as_ref().unwrap().mean, 0.0);
    assert!(table.routers.iter().any(|r| r.router == AUTOMIX_P_BEFORE_ANSWERING));
    let markdown = report.to_markdown();
    assert!(markdown.contains("| AutoMix-P, deciding before answering |") && markdown.contains("local wait saved per remote call"), "{markdown}");
}
