//! Round-trips of calibration files and serialized routers.

use automix_router::{
    fit_calibration, two_model_pomdp, Calibration, CalibrationOptions, LabelledSignals, LogisticScorer, ModelSpec, ObservationModel, RemotePrior,
    RoutingPolicy, ScoreRouter, Signal, SignalValues, Smoothing, ThresholdRouter,
};

fn rows() -> Vec<LabelledSignals> {
    (0..200)
        .map(|i| {
            let v = f64::from(i % 17) / 16.0;
            LabelledSignals {
                signals: SignalValues {
                    v_logit: Some(v),
                    answer_logprob: Some(-f64::from(i % 5)),
                    grounded: Some(i % 3 == 0),
                    answer_tokens: Some(f64::from(i % 7 + 1)),
                    ..SignalValues::default()
                },
                correct: v > 0.6 || i % 3 == 0,
            }
        })
        .collect()
}

fn calibration(combine: bool) -> Calibration {
    let options =
        CalibrationOptions { remote_priors: vec![RemotePrior { model: "gpt-4".to_owned(), accuracy: 0.85 }], combine, ..CalibrationOptions::default() };
    fit_calibration(&rows(), &options).unwrap()
}

#[test]
fn a_combined_calibration_round_trips_with_its_combiner() {
    let calibration = calibration(true);
    assert_eq!(calibration.histograms.len(), 1, "one combined observation");
    let binning = &calibration.histograms[0].binning;
    assert_eq!(binning.signal, Signal::Combined);
    assert_eq!(binning.combiner.as_ref().unwrap().features.len(), 4, "signals absent from the rows are left out");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models/router/other-model.json");
    calibration.save(&path).unwrap();
    let loaded = Calibration::load(&path).unwrap();
    assert_eq!(loaded, calibration);
    let model = ObservationModel::from_calibration(&loaded, &Smoothing::default());
    let confident = SignalValues { v_logit: Some(0.95), answer_logprob: Some(-0.1), grounded: Some(true), ..SignalValues::default() };
    let doubtful = SignalValues { v_logit: Some(0.05), answer_logprob: Some(-3.0), grounded: Some(false), ..SignalValues::default() };
    let prior = loaded.slm_accuracy();
    assert!(model.posterior(prior, &confident) > model.posterior(prior, &doubtful));
}

#[test]
fn calibration_file_round_trips() {
    let calibration = calibration(false);
    assert_eq!(calibration.histograms.len(), 4, "signals absent from the rows are dropped");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models/router/smollm2-135m-instruct.json");
    calibration.save(&path).unwrap();
    assert_eq!(Calibration::load(&path).unwrap(), calibration);
    assert_eq!(calibration.remote_accuracy("gpt-4"), Some(0.85));
}

#[test]
fn calibration_load_names_the_file_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{ not json").unwrap();
    let message = Calibration::load(&path).unwrap_err().to_string();
    assert!(message.contains("broken.json") && message.contains("automix calibrate"), "{message}");
}

#[test]
fn every_routing_policy_round_trips_with_identical_decisions() {
    let calibration = calibration(false);
    let spec = |name: &str, cost: f64| ModelSpec { name: name.to_owned(), call_cost: cost, verify_cost: 1.0 };
    let pomdp = two_model_pomdp(&calibration, &Smoothing::default(), spec("slm", 1.0), spec("gpt-4", 100.0), 0.85).unwrap();
    let scorer = LogisticScorer::fit(&rows(), &[Signal::AnswerLogprob, Signal::Grounded], 1.0);
    let policies = vec![
        RoutingPolicy::AlwaysSlm,
        RoutingPolicy::AlwaysLlm,
        RoutingPolicy::Threshold(ThresholdRouter { signal: Signal::VLogit, threshold: 0.4 }),
        RoutingPolicy::LearnedScorer(ScoreRouter { scorer, threshold: 0.5 }),
        RoutingPolicy::Pomdp(pomdp.solve(0.003).policy),
    ];
    for policy in policies {
        let json = serde_json::to_string(&policy).unwrap();
        let back: RoutingPolicy = serde_json::from_str(&json).unwrap();
        assert_eq!(back, policy);
        for row in rows() {
            assert_eq!(back.decide(&row.signals), policy.decide(&row.signals));
        }
    }
}

#[test]
fn logistic_scorer_ranks_an_informative_feature() {
    let scorer = LogisticScorer::fit(&rows(), &[Signal::VLogit], 0.1);
    let high = SignalValues { v_logit: Some(0.9), ..SignalValues::default() };
    let low = SignalValues { v_logit: Some(0.1), ..SignalValues::default() };
    assert!(scorer.probability(&high) > scorer.probability(&low));
}

#[test]
fn calibration_halves_bins_to_fit_the_joint_observation_cap() {
    let options = CalibrationOptions {
        signals: vec![Signal::VLogit, Signal::AnswerLogprob, Signal::AnswerTokens],
        bins_per_signal: 16,
        max_joint_observations: 400,
        combine: false,
        ..CalibrationOptions::default()
    };
    let calibration = fit_calibration(&rows(), &options).unwrap();
    let joint: usize = calibration.histograms.iter().map(|h| h.binning.bin_count()).product();
    // Uncapped, v_logit alone would have 17 bins and the product 816.
    assert!(joint <= 400, "{joint}");
    assert!(calibration.histograms[0].binning.bin_count() < 17, "bins were halved");
    assert!(calibration.histograms.iter().any(|h| h.binning.bin_count() > 4), "bins shrink only as needed");
}
