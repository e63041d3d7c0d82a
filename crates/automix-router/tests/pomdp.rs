//! Hand-computable POMDPs and the exact-versus-threshold property.

use automix_router::{
    cross_validated_log_loss, fit_calibration, select_signals, Action, CalibrationOptions, CostTarget, JointPrior, LabelledSignals, ModelSpec,
    ObservationModel, Pomdp, SelectionSettings, Signal, SignalBinning, SignalHistogram, SignalValues, Smoothing,
};
use proptest::prelude::*;

fn model(name: &str, call_cost: f64) -> ModelSpec {
    ModelSpec { name: name.to_owned(), call_cost, verify_cost: 1.0 }
}

fn with_v(v: f64) -> SignalValues {
    SignalValues { v_logit: Some(v), ..SignalValues::default() }
}

/// One binary observation: v_logit below or above 0.5, with given P(high | incorrect), P(high | correct).
fn binary_observation(high_if_incorrect: f64, high_if_correct: f64) -> ObservationModel {
    ObservationModel {
        binnings: vec![SignalBinning::with_edges(Signal::VLogit, vec![0.5])],
        likelihood: vec![[vec![1.0 - high_if_incorrect, high_if_incorrect, 0.0], vec![1.0 - high_if_correct, high_if_correct, 0.0]]],
    }
}

#[test]
fn two_state_two_observation_policy_matches_hand_solution() {
    // P(slm correct) = 0.5, P(llm correct) = 0.9 independent. Verifier: high w.p. 0.8 if correct,
    // 0.2 if incorrect. Posterior P(slm correct | high) = 0.8, | low) = 0.2.
    // Route iff 0.9 − λ·10 > posterior: for λ = 0.03, 0.6 > 0.2 (route on low), 0.6 < 0.8 (keep on high).
    let prior = JointPrior::independent(&[0.5, 0.9]).unwrap();
    let pomdp = Pomdp::new(vec![model("slm", 1.0), model("llm", 10.0)], vec![binary_observation(0.2, 0.8)], prior).unwrap();
    let solution = pomdp.solve(0.03);
    assert_eq!(solution.policy.decide_first(&with_v(0.1)), Action::Route(1));
    assert_eq!(solution.policy.decide_first(&with_v(0.9)), Action::Keep);
    // P(low) = 0.5: expected performance 0.5·0.9 + 0.5·0.8, cost 2 + 0.5·10.
    assert!((solution.escalation_rate - 0.5).abs() < 1e-12);
    assert!((solution.expected_performance - 0.85).abs() < 1e-12);
    assert!((solution.expected_cost - 7.0).abs() < 1e-12);

    // λ = 0.01: 0.9 − 0.1 = 0.8 ties the high posterior, so ties keep; low still routes.
    let tie = pomdp.solve(0.01);
    assert_eq!(tie.policy.decide_first(&with_v(0.9)), Action::Keep);
    // λ = 0.005: 0.85 > 0.8, routes always.
    let cheap = pomdp.solve(0.005);
    assert_eq!(cheap.policy.decide_first(&with_v(0.9)), Action::Route(1));
    assert!((cheap.escalation_rate - 1.0).abs() < 1e-12);
    // λ = 0.08: 0.9 − 0.8 = 0.1 < 0.2, never routes.
    let dear = pomdp.solve(0.08);
    assert_eq!(dear.policy.decide_first(&with_v(0.1)), Action::Keep);
    assert!((dear.expected_performance - 0.5).abs() < 1e-12);
}

#[test]
fn correlated_prior_changes_the_hand_solution() {
    // The LLM is right only when the SLM is: routing can never help, whatever the verifier says.
    let prior = JointPrior { models: 2, probabilities: vec![0.5, 0.0, 0.0, 0.5] };
    let pomdp = Pomdp::new(vec![model("slm", 1.0), model("llm", 10.0)], vec![binary_observation(0.2, 0.8)], prior).unwrap();
    let solution = pomdp.solve(0.0);
    assert_eq!(solution.policy.decide_first(&with_v(0.1)), Action::Keep);
    assert_eq!(solution.escalation_rate, 0.0);
}

#[test]
fn three_models_skip_a_useless_middle_model() {
    // Middle model never better than the small one and uninformative: the policy skips it.
    let accuracies = [0.5, 0.3, 0.95];
    let prior = JointPrior::independent(&accuracies).unwrap();
    let pomdp =
        Pomdp::new(vec![model("slm", 1.0), model("mid", 5.0), model("llm", 20.0)], vec![binary_observation(0.2, 0.8), binary_observation(0.5, 0.5)], prior)
            .unwrap();
    // λ = 0.01: from low (posterior 0.2): keep 0.2; llm 0.95 − 0.2 = 0.75;
    // mid then best: −0.06 + max(0.3, 0.95 − 0.2) < 0.75.
    let solution = pomdp.solve(0.01);
    assert_eq!(solution.policy.decide_first(&with_v(0.1)), Action::Route(2));
    assert_eq!(solution.policy.decide_first(&with_v(0.9)), Action::Keep);
    let low = with_v(0.1);
    assert_eq!(solution.policy.decide(&[(0, &low)]).unwrap(), Action::Route(2));
    assert!(solution.policy.decide(&[(1, &low)]).is_err());
}

#[test]
fn three_models_use_an_informative_middle_model() {
    // Middle model: cheap, often right, and its verifier is perfect. From a low SLM reading the
    // policy asks the middle model and escalates further only when its verifier says incorrect.
    let prior = JointPrior::independent(&[0.5, 0.7, 0.9]).unwrap();
    let pomdp =
        Pomdp::new(vec![model("slm", 1.0), model("mid", 2.0), model("llm", 50.0)], vec![binary_observation(0.2, 0.8), binary_observation(0.0, 1.0)], prior)
            .unwrap();
    let solution = pomdp.solve(0.004);
    let (low, high) = (with_v(0.1), with_v(0.9));
    assert_eq!(solution.policy.decide_first(&low), Action::Route(1));
    assert_eq!(solution.policy.decide(&[(0, &low), (1, &low)]).unwrap(), Action::Route(2));
    assert_eq!(solution.policy.decide(&[(0, &low), (1, &high)]).unwrap(), Action::Keep);
}

#[test]
fn lambda_for_target_escalation_fraction() {
    let prior = JointPrior::independent(&[0.5, 0.9]).unwrap();
    let pomdp = Pomdp::new(vec![model("slm", 1.0), model("llm", 10.0)], vec![binary_observation(0.2, 0.8)], prior).unwrap();
    let half = pomdp.solve_for_target(CostTarget::EscalationFraction(0.6)).unwrap();
    assert!((half.escalation_rate - 0.5).abs() < 1e-12);
    let all = pomdp.solve_for_target(CostTarget::AverageCost(100.0)).unwrap();
    assert!((all.escalation_rate - 1.0).abs() < 1e-12);
    assert!(pomdp.solve_for_target(CostTarget::AverageCost(1.0)).is_err());
}

#[test]
fn shapes_are_validated() {
    let prior = JointPrior::independent(&[0.5, 0.9]).unwrap();
    assert!(Pomdp::new(vec![model("slm", 1.0)], vec![], JointPrior::independent(&[0.5]).unwrap()).is_err());
    assert!(Pomdp::new(vec![model("slm", 1.0), model("llm", 10.0)], vec![], prior).is_err());
    assert!(JointPrior::independent(&[1.5]).is_err());
}

#[test]
fn refining_a_prior_moves_it_toward_observed_outcomes() {
    let prior = JointPrior::independent(&[0.5, 0.5]).unwrap();
    let outcomes = vec![vec![false, true]; 30];
    let refined = prior.refine(&outcomes, 10.0);
    assert!((refined.accuracy(1) - (5.0 + 30.0) / 40.0).abs() < 1e-12);
    assert!((refined.accuracy(0) - 5.0 / 40.0).abs() < 1e-12);
}

/// Training reward of routing `routed[bin]`: keep earns the row's correctness, routing earns the
/// remote accuracy minus λ·cost.
fn training_reward(rows: &[(usize, bool)], routed: &[bool], remote_accuracy: f64, lambda_cost: f64) -> f64 {
    rows.iter().map(|(bin, correct)| if routed[*bin] { remote_accuracy - lambda_cost } else { f64::from(u8::from(*correct)) }).sum()
}

proptest! {
    #[test]
    fn exact_policy_never_loses_to_best_threshold_on_training_rows(
        rows in prop::collection::vec((0.0f64..1.0, any::<bool>()), 1..200),
        bins in 2usize..8,
        remote_accuracy in 0.0f64..1.0,
        lambda in 0.0f64..0.02,
    ) {
        let labelled: Vec<LabelledSignals> = rows
            .iter()
            .map(|(v, correct)| LabelledSignals { signals: with_v(*v), correct: *correct })
            .collect();
        let options = CalibrationOptions {
            signals: vec![Signal::VLogit],
            bins_per_signal: bins,
            combine: false,
            ..CalibrationOptions::default()
        };
        let calibration = fit_calibration(&labelled, &options).unwrap();
        let histogram: &SignalHistogram = &calibration.histograms[0];
        let pomdp = Pomdp::new(
            vec![model("slm", 1.0), model("llm", 30.0)],
            vec![ObservationModel::from_calibration(&calibration, &Smoothing::NONE)],
            JointPrior::independent(&[calibration.slm_accuracy(), remote_accuracy]).unwrap(),
        ).unwrap();
        let policy = pomdp.solve(lambda).policy;
        let bin_of: Vec<(usize, bool)> = labelled
            .iter()
            .map(|r| (histogram.binning.bin(&r.signals), r.correct))
            .collect();
        let value_bins = histogram.binning.bin_count() - 1;
        let exact: Vec<bool> = (0..histogram.binning.bin_count())
            .map(|b| {
                let probe = bin_of.iter().zip(&labelled).find(|((bin, _), _)| *bin == b);
                probe.is_some_and(|(_, row)| policy.decide_first(&row.signals) != Action::Keep)
            })
            .collect();
        let lambda_cost = lambda * 30.0;
        let exact_reward = training_reward(&bin_of, &exact, remote_accuracy, lambda_cost);
        for cut in 0..=value_bins {
            let threshold: Vec<bool> = (0..histogram.binning.bin_count()).map(|b| b < cut).collect();
            let threshold_reward = training_reward(&bin_of, &threshold, remote_accuracy, lambda_cost);
            prop_assert!(exact_reward >= threshold_reward - 1e-9,
                "exact {exact_reward} < threshold at bin {cut}: {threshold_reward}");
        }
    }
}

#[test]
fn selection_keeps_the_informative_signal_and_drops_noise() {
    // v_logit separates the classes; retrieval_score is a deterministic pattern unrelated to them.
    let rows: Vec<LabelledSignals> = (0..300)
        .map(|i| {
            let correct = i % 3 == 0;
            let v = if correct { 0.6 } else { 0.2 } + f64::from(i % 7) * 0.05;
            LabelledSignals {
                signals: SignalValues { v_logit: Some(v), retrieval_score: Some(f64::from((i * 7919) % 101) / 101.0), ..SignalValues::default() },
                correct,
            }
        })
        .collect();
    let settings = SelectionSettings { bins_per_signal: 8, smoothing: Smoothing::default(), folds: 5 };
    let selected = select_signals(&rows, &[Signal::RetrievalScore, Signal::VLogit], &settings);
    assert_eq!(selected, vec![Signal::VLogit]);
    let informative = cross_validated_log_loss(&rows, &[Signal::VLogit], &settings);
    let prior_only = cross_validated_log_loss(&rows, &[], &settings);
    assert!(informative < prior_only);
}

#[test]
fn kernel_smoothing_conserves_counts_and_spares_the_missing_bin() {
    let histogram = SignalHistogram {
        binning: SignalBinning::with_edges(Signal::VLogit, vec![0.25, 0.5, 0.75]),
        incorrect: vec![8.0, 0.0, 0.0, 0.0, 2.0],
        correct: vec![0.0, 0.0, 0.0, 4.0, 0.0],
    };
    let smoothing = Smoothing { additive: 0.0, kernel_width: 0.25, monotone: false };
    let model = ObservationModel::from_histograms(&[histogram], &smoothing);
    let incorrect = &model.likelihood[0][0];
    assert!((incorrect.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    assert!((incorrect[4] - 0.2).abs() < 1e-12, "missing bin keeps its share");
    assert!(incorrect[1] > 0.0 && incorrect[0] > incorrect[1] && incorrect[1] > incorrect[2]);
}

#[test]
fn monotone_smoothing_pools_violating_bins_and_keeps_bin_totals() {
    // Rates 0.2, 0.6, 0.4, 0.9 over equal-weight bins: increasing fit pools bins 1–2 to 0.5.
    let histogram = SignalHistogram {
        binning: SignalBinning::with_edges(Signal::VLogit, vec![0.25, 0.5, 0.75]),
        incorrect: vec![8.0, 4.0, 6.0, 1.0, 0.0],
        correct: vec![2.0, 6.0, 4.0, 9.0, 0.0],
    };
    let smoothing = Smoothing { additive: 0.0, kernel_width: 0.0, monotone: true };
    let model = ObservationModel::from_histograms(&[histogram], &smoothing);
    let [incorrect, correct] = &model.likelihood[0];
    // Totals per class: incorrect 19, correct 21 are conserved, so compare scaled counts.
    let rate = |b: usize| correct[b] * 21.0 / (correct[b] * 21.0 + incorrect[b] * 19.0);
    assert!((rate(0) - 0.2).abs() < 1e-12);
    assert!((rate(1) - 0.5).abs() < 1e-12 && (rate(2) - 0.5).abs() < 1e-12);
    assert!((rate(3) - 0.9).abs() < 1e-12);
}

#[test]
fn selection_falls_back_to_the_first_candidate_without_enough_correct_rows() {
    // Two correct rows in 100: nothing can be validated, whatever the signals look like.
    let rows: Vec<LabelledSignals> = (0..100)
        .map(|i| LabelledSignals {
            signals: SignalValues { v_logit: Some(f64::from(i % 10) / 10.0), answer_logprob: Some(-f64::from(i % 7)), ..SignalValues::default() },
            correct: i < 2,
        })
        .collect();
    let settings = SelectionSettings { bins_per_signal: 8, smoothing: Smoothing::default(), folds: 5 };
    let selected = select_signals(&rows, &[Signal::VLogit, Signal::AnswerLogprob], &settings);
    assert_eq!(selected, vec![Signal::VLogit]);
}
