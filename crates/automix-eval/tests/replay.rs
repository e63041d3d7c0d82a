//! The replayed stream: a router calibrated on a set where the local model is usually right meets
//! one where it is usually wrong; learning from judged answers moves its prior towards the new rate.

use automix_eval::replay::{replay, ReplayOptions};
use automix_eval::{EvalOptions, NamedTable, RoutingRow, ScoredAnswer, TokenCounts};
use automix_router::SignalValues;

fn rows(name: &str, count: usize, right_share: f64) -> Vec<RoutingRow> {
    (0..count)
        .map(|i| {
            let right = (i as f64 + 0.5) / count as f64 <= right_share;
            let answer = if right { "Paris is the capital" } else { "Lyon perhaps" };
            RoutingRow {
                id: format!("{name}-{i}"),
                dataset: name.into(),
                question: format!("Which city is meant in part {i}?"),
                slm: ScoredAnswer { model: "slm".into(), answer: answer.into(), score: f64::from(u8::from(right)), ..Default::default() },
                signals: SignalValues {
                    v_logit: Some(if right { 0.7 } else { 0.4 } + (i % 5) as f64 * 0.05),
                    answer_tokens: Some((i % 7) as f64),
                    ..Default::default()
                },
                tokens: TokenCounts::default(),
                llm: vec![ScoredAnswer { model: "remote".into(), answer: "Paris is the capital".into(), score: 1.0, ..Default::default() }],
            }
        })
        .collect()
}

#[test]
fn learning_moves_the_prior_from_the_calibrations_rate_towards_the_sets_own() {
    let tables = [NamedTable { name: "easy".into(), rows: rows("easy", 120, 0.8) }, NamedTable { name: "hard".into(), rows: rows("hard", 120, 0.2) }];
    let options = EvalOptions { llm_model: "remote".into(), ..Default::default() };
    let results = replay(&tables, &options, &ReplayOptions { questions: 400, seeds: 2, ..Default::default() }).unwrap();
    let hard = results.iter().find(|r| r.table == "hard").expect("the hard set is replayed");
    assert!(hard.calibration_accuracy > 0.7, "calibrated on the easy set: {hard:?}");
    assert!((hard.set_accuracy - 0.2).abs() < 1e-9);
    assert!(hard.learned_accuracy.mean < hard.calibration_accuracy - 0.2, "the prior moved towards 0.2: {hard:?}");
    assert_eq!(hard.agreement_judges_right, 1.0, "here agreement with the remote answer is exactly right or wrong");
    assert_eq!((hard.fixed.per_seed.len(), hard.learning.per_seed.len()), (2, 2));
}
