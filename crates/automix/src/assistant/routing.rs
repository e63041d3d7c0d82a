//! The router as the pipeline uses it: the bundled calibration for the local model, the remote
//! model's prior accuracy, λ from the budget, and the exact two-model POMDP solved for this question.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use automix_router::{Action, Calibration, JointPrior, ModelSpec, ObservationModel, Pomdp, SignalValues, Smoothing};

use super::events::AskError;

/// The catalog model whose calibration is the default (and the conservative stand-in for models
/// without one).
const DEFAULT_CALIBRATED_MODEL: &str = "smollm2-135m-instruct";

/// Calibrations shipped with the app, by catalog chat model: SmolLM2-135M-Instruct's fitted by
/// `automix calibrate` on routing tables from the QA sets in ../shared/data (docs/evaluation.md),
/// the others by `automix calibrate --model ID` on the bundled calibration set
/// (models/router/SOURCES.md). A model listed here is calibrated from its first answer.
const BUNDLED_CALIBRATIONS: [(&str, &str); 3] = [
    (DEFAULT_CALIBRATED_MODEL, include_str!("../../../../models/router/smollm2-135m-instruct.json")),
    ("qwen2.5-coder-0.5b-instruct", include_str!("../../../../models/router/qwen2.5-coder-0.5b-instruct.json")),
    ("qwen2.5-coder-1.5b-instruct", include_str!("../../../../models/router/qwen2.5-coder-1.5b-instruct.json")),
];

fn bundled_calibration(model_id: &str) -> Option<Result<Calibration, AskError>> {
    BUNDLED_CALIBRATIONS
        .iter()
        .find(|(id, _)| *id == model_id)
        .map(|(_, text)| serde_json::from_str(text).map_err(|e| AskError::Router(format!("the bundled calibration of {model_id}: {e}"))))
}

use automix_router::learning::{learned_accuracy, recent_judgements};

/// Folder under `$AUTOMIX_HOME` with calibrations fitted on this machine (`automix calibrate --model`).
pub const CALIBRATIONS_DIR: &str = "router";

pub struct Router {
    calibration: Calibration,
    /// Whether `calibration` describes the model in use (else it is the bundled SmolLM2 one).
    calibrated: bool,
    observations: ObservationModel,
    /// Answers judged in use (by agreement with the remote answer or by the user): (judged, correct).
    learned: (usize, usize),
}

/// What the router has learned from use about the local model, for the settings to show.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct RouterLearning {
    /// Local answers judged in use (by the user's 👍/👎, or by agreeing with a remote answer), at
    /// most `MAX_LEARNED_ANSWERS`, since the learning was last forgotten.
    pub judged: usize,
    /// How many of those were right.
    pub correct: usize,
    /// The prior the router now routes on: the calibration's accuracy moved by the judged answers.
    pub local_accuracy: f64,
}

/// The router's verdict on one answer.
#[derive(Debug, Clone)]
pub struct RoutePlan {
    pub escalate: bool,
    /// P(local answer correct | signals).
    pub local_confidence: f64,
    /// Expected utility (performance − λ·cost) of keeping and of escalating.
    pub expected_utilities: BTreeMap<String, f64>,
}

impl Router {
    /// The router on the default model's bundled calibration.
    pub fn bundled() -> Result<Self, AskError> {
        let calibration = bundled_calibration(DEFAULT_CALIBRATED_MODEL).expect("the default model's calibration is bundled")?;
        Ok(Self::new(calibration, true))
    }

    /// The router for chat model `model_id`: its calibration fitted on this machine, else the one
    /// bundled for it. A model with neither routes on the bundled SmolLM2 calibration, marked
    /// uncalibrated: that conservative default rates any stronger model's answers as a 135M
    /// model's and so escalates more than it needs to, never less.
    pub fn for_model(model_id: &str, home: &Path) -> Result<Self, AskError> {
        match model_calibration(model_id, home)? {
            Some((calibration, _)) => Ok(Self::new(calibration, true)),
            None => {
                let mut router = Self::bundled()?;
                router.calibrated = false;
                Ok(router)
            }
        }
    }

    pub fn new(calibration: Calibration, calibrated: bool) -> Self {
        let observations = ObservationModel::from_calibration(&calibration, &Smoothing::default());
        Self { calibration, calibrated, observations, learned: (0, 0) }
    }

    /// Whether the calibration describes the model in use.
    pub fn calibrated(&self) -> bool {
        self.calibrated
    }

    /// Refines the local model's prior accuracy with answers judged in use, oldest first; only the
    /// most recent `MAX_LEARNED_ANSWERS` count, weighed against `CALIBRATION_PRIOR_WEIGHT` rows.
    pub fn learn(&mut self, local_correct: &[bool]) {
        self.learned = recent_judgements(local_correct);
    }

    /// What use has taught the router so far.
    pub fn learning(&self) -> RouterLearning {
        RouterLearning { judged: self.learned.0, correct: self.learned.1, local_accuracy: self.slm_accuracy() }
    }

    /// The local model's prior accuracy: the calibration's, moved by what use has shown.
    pub fn slm_accuracy(&self) -> f64 {
        learned_accuracy(self.calibration.slm_accuracy(), self.calibration.rows, self.learned)
    }

    /// P(local answer correct | signals) by Bayes' rule over the calibrated likelihoods.
    pub fn local_confidence(&self, signals: &SignalValues) -> f64 {
        self.observations.posterior(self.slm_accuracy(), signals)
    }

    /// Solves the POMDP for this question's remote cost and λ, then looks the signals up in the policy.
    pub fn plan(&self, signals: &SignalValues, remote_cost: f64, remote_accuracy: f64, lambda: f64) -> Result<RoutePlan, AskError> {
        let local = ModelSpec { name: self.calibration.slm_model.clone(), call_cost: 0.0, verify_cost: 0.0 };
        let remote = ModelSpec { name: "remote".into(), call_cost: remote_cost, verify_cost: 0.0 };
        let router_error = |e: automix_router::PomdpError| AskError::Router(e.to_string());
        let prior = JointPrior::independent(&[self.slm_accuracy(), remote_accuracy]).map_err(router_error)?;
        let pomdp = Pomdp::new(vec![local, remote], vec![self.observations.clone()], prior).map_err(router_error)?;
        let policy = pomdp.solve(lambda).policy;
        let local_confidence = self.local_confidence(signals);
        let expected_utilities = BTreeMap::from([("keep".to_string(), local_confidence), ("escalate".to_string(), remote_accuracy - lambda * remote_cost)]);
        Ok(RoutePlan { escalate: policy.decide_first(signals) != Action::Keep, local_confidence, expected_utilities })
    }
}

/// Where the calibration a chat model routes on comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum CalibrationOrigin {
    /// Fitted on this machine (`automix calibrate --model`, or the app after a download).
    FittedHere,
    /// Shipped with the app.
    Bundled,
}

/// The calibration `Router::for_model` uses for `model_id`, and where it comes from; `None` when
/// the model has neither a fitted nor a bundled one.
pub fn model_calibration(model_id: &str, home: &Path) -> Result<Option<(Calibration, CalibrationOrigin)>, AskError> {
    let fitted = calibration_path(home, model_id);
    if fitted.exists() {
        let calibration = Calibration::load(&fitted).map_err(|e| AskError::Router(e.to_string()))?;
        return Ok(Some((calibration, CalibrationOrigin::FittedHere)));
    }
    bundled_calibration(model_id).map(|calibration| Ok((calibration?, CalibrationOrigin::Bundled))).transpose()
}

/// Where `automix calibrate --model ID` writes the calibration of `model_id`.
pub fn calibration_path(home: &Path, model_id: &str) -> PathBuf {
    home.join(CALIBRATIONS_DIR).join(format!("{model_id}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bundled calibration parses, names the model it is bundled for, and routes that model
    /// as calibrated even where nothing was fitted on this machine.
    #[test]
    fn each_bundled_calibration_describes_its_model() {
        let empty_home = tempfile::tempdir().unwrap();
        for (id, _) in BUNDLED_CALIBRATIONS {
            let calibration = bundled_calibration(id).unwrap().unwrap();
            assert_eq!(calibration.slm_model, id);
            assert!(calibration.rows >= 100, "{id}: {} rows", calibration.rows);
            let router = Router::for_model(id, empty_home.path()).unwrap();
            assert!(router.calibrated(), "{id}");
            assert!((router.slm_accuracy() - calibration.slm_accuracy()).abs() < 1e-12, "{id}: its own prior accuracy");
        }
        assert!(bundled_calibration("llama-3.2-1b-instruct").is_none());
    }

    #[test]
    fn use_moves_the_prior_within_bounds() {
        use automix_router::learning::{CALIBRATION_PRIOR_WEIGHT, MAX_LEARNED_ANSWERS};
        let mut router = Router::bundled().unwrap();
        let calibrated = router.slm_accuracy();
        router.learn(&[true; 50]);
        let after_good = router.slm_accuracy();
        assert!(after_good > calibrated && after_good < 1.0);
        router.learn(&vec![false; 10_000]);
        let weight = router.calibration.rows.min(CALIBRATION_PRIOR_WEIGHT) as f64;
        let floor = calibrated * weight / (weight + MAX_LEARNED_ANSWERS as f64);
        assert!((router.slm_accuracy() - floor).abs() < 1e-12, "only the last {MAX_LEARNED_ANSWERS} answers count");
        router.learn(&[]);
        assert_eq!(router.slm_accuracy(), calibrated, "forgetting restores the calibration");
    }

    #[test]
    fn a_more_trusted_local_model_escalates_less() {
        use automix_router::learning::MAX_LEARNED_ANSWERS;
        let mut router = Router::bundled().unwrap();
        let signals = SignalValues { v_logit: Some(0.3), answer_tokens: Some(8.0), ..Default::default() };
        let confidence = router.local_confidence(&signals);
        router.learn(&[true; MAX_LEARNED_ANSWERS]);
        assert!(router.local_confidence(&signals) > confidence);
    }
}
