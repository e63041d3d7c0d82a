//! AutoMix routing: decide whether to keep a small local model's answer or escalate to a larger one.
//!
//! - [`pomdp`]: AutoMix-P, an exact finite-horizon POMDP over N ≥ 2 models with several observation
//!   signals, solved into a lookup table per λ ([`Pomdp::solve`], [`Pomdp::solve_for_target`]).
//! - [`smoothing`]: how the calibration's histograms become the POMDP's likelihoods ([`Smoothing`]).
//! - [`baselines`]: AutoMix-T ([`ThresholdRouter`]), the learned-scorer router, always-SLM/LLM.
//! - [`logistic`]: the logistic-regression scorer ([`LogisticScorer`]).
//! - [`pre_answer`]: deciding before answering from the question's own signals ([`PreAnswerPolicy`]).
//! - [`selection`]: cross-validated choice of the signals worth observing.
//! - [`calibration`]: the `models/router/<model-id>.json` file, P(signals | small-model correctness).
//! - [`learning`]: how judged answers move the local model's prior accuracy.
//! - [`binning`]: one signal's values into bins; [`signals`]: the signals and labelled rows.
//! - [`table`]: the routing table (one row per answered QA item) and fitting a calibration on it.
//!
//! The remote model is factored out: the calibration describes only the small model; the remote
//! model's accuracy enters as a number in the [`JointPrior`], refined when judged answers exist.
//!
//! Modules use each other in layers, never in a circle: `action`, `signals`, `smoothing`, `learning` use no
//! other module; `logistic` uses `signals`; `binning` uses `logistic`; `calibration` uses
//! `binning`; `pomdp` uses `calibration` and `smoothing`; `pre_answer` uses `logistic` and `pomdp`; `baselines` uses `pre_answer`; `selection` uses `pomdp`; `table` uses `calibration` and `selection`.

mod action;
pub mod baselines;
pub mod binning;
pub mod calibration;
pub mod learning;
pub mod logistic;
pub mod pomdp;
pub mod pre_answer;
pub mod selection;
pub mod signals;
pub mod smoothing;
pub mod table;

pub use action::Action;
pub use baselines::{RoutingPolicy, ScoreRouter, ThresholdRouter};
pub use binning::SignalBinning;
pub use calibration::{fit_calibration, Calibration, CalibrationError, CalibrationOptions, RemotePrior, SignalHistogram, DEFAULT_BINS_PER_SIGNAL};
pub use logistic::LogisticScorer;
pub use pomdp::{CostTarget, JointPrior, ModelSpec, ObservationModel, Pomdp, PomdpError, PomdpPolicy, PomdpSolution};
pub use pre_answer::{PreAnswerModel, PreAnswerPolicy, PRE_ANSWER_SIGNALS};
pub use selection::{cross_validated_log_loss, select_signals, SelectionSettings};
pub use signals::{LabelledSignals, Signal, SignalValues};
pub use smoothing::Smoothing;
pub use table::{fit_tables, read_table, write_table, RemoteCall, RoutingRow, ScoredAnswer, TableError, TokenCounts};

/// Two-model AutoMix-P from a calibration file and the remote model's prior accuracy.
///
/// `slm` and `remote` give names and costs; the verifier cost applies when a calibrated signal
/// needs it; `smoothing` turns the histograms into likelihoods ([`Smoothing::default`] suits a few hundred rows).
pub fn two_model_pomdp(calibration: &Calibration, smoothing: &Smoothing, slm: ModelSpec, remote: ModelSpec, remote_accuracy: f64) -> Result<Pomdp, PomdpError> {
    let prior = JointPrior::independent(&[calibration.slm_accuracy(), remote_accuracy])?;
    Pomdp::new(vec![slm, remote], vec![ObservationModel::from_calibration(calibration, smoothing)], prior)
}
