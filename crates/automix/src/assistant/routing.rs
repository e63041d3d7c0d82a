//! The router as the pipeline uses it: the bundled calibration for the local model, the remote
//! model's prior accuracy, λ from the budget, and the exact two-model POMDP solved for this question.

use std::collections::BTreeMap;

use automix_router::{two_model_pomdp, Action, Calibration, ModelSpec, ObservationModel, SignalValues, Smoothing};

use super::events::AskError;

/// Calibration of SmolLM2-135M-Instruct's signals, fitted by `automix calibrate` on routing tables
/// collected from the QA sets in ../shared/data (see docs/evaluation.md).
const BUNDLED_CALIBRATION: &str = include_str!("../../../../models/router/smollm2-135m-instruct.json");

pub struct Router {
    calibration: Calibration,
    smoothing: Smoothing,
    observations: ObservationModel,
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
    pub fn bundled() -> Result<Self, AskError> {
        let calibration: Calibration = serde_json::from_str(BUNDLED_CALIBRATION).map_err(|e| AskError::Router(e.to_string()))?;
        Ok(Self::new(calibration))
    }

    pub fn new(calibration: Calibration) -> Self {
        let smoothing = Smoothing::default();
        let observations = ObservationModel::from_calibration(&calibration, &smoothing);
        Self { calibration, smoothing, observations }
    }

    pub fn slm_accuracy(&self) -> f64 {
        self.calibration.slm_accuracy()
    }

    /// P(local answer correct | signals) by Bayes' rule over the calibrated likelihoods.
    pub fn local_confidence(&self, signals: &SignalValues) -> f64 {
        let [wrong, right] = self.observations.likelihoods(signals);
        let prior = self.slm_accuracy();
        let evidence = prior * right + (1.0 - prior) * wrong;
        if evidence > 0.0 { prior * right / evidence } else { prior }
    }

    /// Solves the POMDP for this question's remote cost and λ, then looks the signals up in the policy.
    pub fn plan(&self, signals: &SignalValues, remote_cost: f64, remote_accuracy: f64, lambda: f64) -> Result<RoutePlan, AskError> {
        let local = ModelSpec { name: self.calibration.slm_model.clone(), call_cost: 0.0, verify_cost: 0.0 };
        let remote = ModelSpec { name: "remote".into(), call_cost: remote_cost, verify_cost: 0.0 };
        let pomdp = two_model_pomdp(&self.calibration, &self.smoothing, local, remote, remote_accuracy)
            .map_err(|e| AskError::Router(e.to_string()))?;
        let policy = pomdp.solve(lambda).policy;
        let local_confidence = self.local_confidence(signals);
        let expected_utilities = BTreeMap::from([
            ("keep".to_string(), local_confidence),
            ("escalate".to_string(), remote_accuracy - lambda * remote_cost),
        ]);
        Ok(RoutePlan { escalate: policy.decide_first(signals) != Action::Keep, local_confidence, expected_utilities })
    }
}
