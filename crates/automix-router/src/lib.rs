//! AutoMix routing: decide whether to keep a small local model's answer or escalate to a larger one.
//!
//! - [`pomdp`]: AutoMix-P, an exact finite-horizon POMDP over N ≥ 2 models with several observation
//!   signals, solved into a lookup table per λ ([`Pomdp::solve`], [`Pomdp::solve_for_target`]).
//! - [`baselines`]: AutoMix-T ([`ThresholdRouter`]), a logistic-regression scorer, always-SLM/LLM.
//! - [`selection`]: cross-validated choice of the signals worth observing.
//! - [`calibration`]: the `models/router/<model-id>.json` file, P(signals | small-model correctness).
//!
//! The remote model is factored out: the calibration describes only the small model; the remote
//! model's accuracy enters as a number in the [`JointPrior`], refined when judged answers exist.

pub mod baselines;
pub mod calibration;
pub mod pomdp;
pub mod selection;
pub mod signals;

pub use baselines::{LogisticScorer, RoutingPolicy, ScoreRouter, ThresholdRouter};
pub use calibration::{
    fit_calibration, Calibration, CalibrationError, CalibrationOptions, LabelledSignals, RemotePrior, SignalHistogram, DEFAULT_BINS_PER_SIGNAL,
};
pub use pomdp::{CostTarget, JointPrior, ModelSpec, ObservationModel, Pomdp, PomdpError, PomdpPolicy, PomdpSolution, Smoothing};
pub use selection::{cross_validated_log_loss, select_signals, SelectionSettings};
pub use signals::{Signal, SignalBinning, SignalValues};

use serde::{Deserialize, Serialize};

/// What to do with the current model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Return the current model's answer.
    Keep,
    /// Ask model `j` (an index into the model list, larger than the current one).
    Route(usize),
}

impl Action {
    #[inline]
    fn from_code(code: u8) -> Self {
        if code == 0 {
            Action::Keep
        } else {
            Action::Route(usize::from(code))
        }
    }
}

/// Two-model AutoMix-P from a calibration file and the remote model's prior accuracy.
///
/// `slm` and `remote` give names and costs; the verifier cost applies when a calibrated signal
/// needs it; `smoothing` turns the histograms into likelihoods ([`Smoothing::default`] suits a few hundred rows).
pub fn two_model_pomdp(calibration: &Calibration, smoothing: &Smoothing, slm: ModelSpec, remote: ModelSpec, remote_accuracy: f64) -> Result<Pomdp, PomdpError> {
    let prior = JointPrior::independent(&[calibration.slm_accuracy(), remote_accuracy])?;
    Pomdp::new(vec![slm, remote], vec![ObservationModel::from_calibration(calibration, smoothing)], prior)
}
