//! Two-model routers other than the POMDP: AutoMix-T, the learned scorer, and fixed choices.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::logistic::LogisticScorer;
use crate::pomdp::PomdpPolicy;
use crate::pre_answer::PreAnswerPolicy;
use crate::signals::{Signal, SignalValues};

/// AutoMix-T: route iff the signal is below `threshold` (a missing value routes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRouter {
    /// Signal compared, usually `v_logit`.
    pub signal: Signal,
    /// Values below this escalate.
    pub threshold: f64,
}

impl ThresholdRouter {
    /// Keep or route to model 1.
    #[inline]
    pub fn decide(&self, signals: &SignalValues) -> Action {
        match self.signal.value(signals) {
            Some(v) if v >= self.threshold => Action::Keep,
            _ => Action::Route(1),
        }
    }
}

/// Routes iff the scorer's P(correct) is below `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRouter {
    /// The fitted scorer.
    pub scorer: LogisticScorer,
    /// P(correct) below this escalates.
    pub threshold: f64,
}

/// Any two-model routing policy, serializable for the app's settings and for reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "router")]
pub enum RoutingPolicy {
    /// Always keep the small model's answer.
    AlwaysSlm,
    /// Always ask the large model.
    AlwaysLlm,
    /// AutoMix-T.
    Threshold(ThresholdRouter),
    /// FrugalGPT-like learned scorer.
    LearnedScorer(ScoreRouter),
    /// AutoMix-P.
    Pomdp(PomdpPolicy),
    /// AutoMix-P that may escalate before answering.
    PreAnswer(PreAnswerPolicy),
}

impl RoutingPolicy {
    /// Decision after the small model answered with `signals`.
    pub fn decide(&self, signals: &SignalValues) -> Action {
        match self {
            RoutingPolicy::AlwaysSlm => Action::Keep,
            RoutingPolicy::AlwaysLlm => Action::Route(1),
            RoutingPolicy::Threshold(router) => router.decide(signals),
            RoutingPolicy::LearnedScorer(router) => {
                if router.scorer.probability(signals) < router.threshold {
                    Action::Route(1)
                } else {
                    Action::Keep
                }
            }
            RoutingPolicy::Pomdp(policy) => policy.decide_first(signals),
            RoutingPolicy::PreAnswer(policy) if policy.escalates_at_once(signals) => Action::Route(1),
            RoutingPolicy::PreAnswer(policy) => policy.decide_after_answer(signals),
        }
    }

    /// Whether the small model must self-verify before the decision.
    pub fn needs_verifier(&self) -> bool {
        match self {
            RoutingPolicy::AlwaysSlm | RoutingPolicy::AlwaysLlm => false,
            RoutingPolicy::Threshold(router) => router.signal.needs_verifier(),
            RoutingPolicy::LearnedScorer(router) => router.scorer.features.iter().any(|s| s.needs_verifier()),
            RoutingPolicy::Pomdp(policy) => policy.slm_needs_verifier(),
            RoutingPolicy::PreAnswer(policy) => policy.needs_verifier(),
        }
    }

    /// Whether a question with these signals goes to the large model without the small model
    /// answering (always-LLM, or a pre-answer decision; only the question's own signals count).
    pub fn skips_slm(&self, signals: &SignalValues) -> bool {
        match self {
            RoutingPolicy::AlwaysLlm => true,
            RoutingPolicy::PreAnswer(policy) => policy.escalates_at_once(signals),
            _ => false,
        }
    }
}
