//! AutoMix-P: a finite-horizon POMDP over the correctness of N ≥ 2 models, solved exactly into a
//! lookup table per λ.
//!
//! Hidden state: which models would answer this query correctly (2^N combinations, with a joint
//! prior so that "hard for the small model" may also mean "hard for the large one"). Each model
//! that is not the last answers, and its signals are observed through a naive-Bayes histogram
//! model P(bin of each signal | that model's correctness). Actions at model i: keep its answer,
//! or route to any larger model j > i (skipping allowed). Reward: correctness of the kept answer
//! − λ · cost. The tree is finite, so the policy is exact for the fitted model.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::binning::SignalBinning;
use crate::calibration::{Calibration, SignalHistogram};
use crate::signals::SignalValues;
use crate::smoothing::Smoothing;

/// Largest observation space (product of bins) or policy table the solver accepts.
pub const MAX_TABLE_ENTRIES: usize = 1 << 22;

/// Errors in building or querying a POMDP router.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PomdpError {
    /// Fewer than two models.
    #[error("a router needs at least two models (small and large), got {0}")]
    TooFewModels(usize),
    /// Wrong number of observation models.
    #[error("need one observation model per model except the last ({expected}), got {found}")]
    ObservationCount {
        /// N − 1.
        expected: usize,
        /// Given.
        found: usize,
    },
    /// Joint prior of the wrong size or not a distribution.
    #[error("joint prior must hold 2^{models} non-negative probabilities summing to 1: {detail}")]
    BadPrior {
        /// Number of models.
        models: usize,
        /// What is wrong.
        detail: String,
    },
    /// A probability outside [0, 1].
    #[error("accuracy {0} is not a probability in [0, 1]")]
    BadAccuracy(f64),
    /// Too many bins.
    #[error("the policy would need {0} table entries (limit {MAX_TABLE_ENTRIES}); use fewer signals or bins")]
    TooLarge(usize),
    /// A model visit sequence that the policy does not know.
    #[error("no policy table for the visited models {0:?}: visits must start at model 0, increase, and not include the last model")]
    UnknownPath(Vec<usize>),
    /// The target cost cannot be met.
    #[error("target {target} is below the cheapest policy's expected cost {cheapest}")]
    UnreachableTarget {
        /// Asked-for cost.
        target: f64,
        /// Cost of the cheapest (never route) policy.
        cheapest: f64,
    },
}

/// Cost of one model, in units of one small-model call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Model name.
    pub name: String,
    /// Cost of one answer.
    pub call_cost: f64,
    /// Cost of its self-verification (paid only when its observation model reads a verifier signal).
    pub verify_cost: f64,
}

/// P(observation | correctness) of one model: naive Bayes over discretised signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservationModel {
    /// One binning per signal.
    pub binnings: Vec<SignalBinning>,
    /// `likelihood[s][c][b]` = P(signal s in bin b | correct = c).
    pub likelihood: Vec<[Vec<f64>; 2]>,
}

impl ObservationModel {
    /// From histograms, smoothed as `smoothing` says ([`Smoothing::NONE`] = the raw histogram).
    ///
    /// A class without any row gets a uniform likelihood: it says nothing about the signal.
    pub fn from_histograms(histograms: &[SignalHistogram], smoothing: &Smoothing) -> Self {
        let normalise = |counts: &[f64]| -> Vec<f64> {
            let total: f64 = counts.iter().sum();
            if total <= 0.0 {
                vec![1.0 / counts.len() as f64; counts.len()]
            } else {
                counts.iter().map(|c| c / total).collect()
            }
        };
        Self {
            binnings: histograms.iter().map(|h| h.binning.clone()).collect(),
            likelihood: histograms
                .iter()
                .map(|h| {
                    let [incorrect, correct] = smoothing.apply(&h.incorrect, &h.correct);
                    [normalise(&incorrect), normalise(&correct)]
                })
                .collect(),
        }
    }

    /// From a calibration file's histograms.
    pub fn from_calibration(calibration: &Calibration, smoothing: &Smoothing) -> Self {
        Self::from_histograms(&calibration.histograms, smoothing)
    }

    /// `[P(values | incorrect), P(values | correct)]` under the naive-Bayes product.
    pub fn likelihoods(&self, values: &SignalValues) -> [f64; 2] {
        self.binnings.iter().zip(&self.likelihood).fold([1.0, 1.0], |acc, (binning, per_class)| {
            let bin = binning.bin(values);
            [acc[0] * per_class[0][bin], acc[1] * per_class[1][bin]]
        })
    }

    /// P(correct | values) by Bayes' rule from the prior P(correct).
    pub fn posterior(&self, prior: f64, values: &SignalValues) -> f64 {
        let [incorrect, correct] = self.likelihoods(values);
        let evidence = prior * correct + (1.0 - prior) * incorrect;
        if evidence > 0.0 {
            prior * correct / evidence
        } else {
            prior
        }
    }

    /// Whether any signal needs the self-verification prompt.
    pub fn needs_verifier(&self) -> bool {
        self.binnings.iter().any(|b| b.signal.needs_verifier())
    }

    /// Number of joint observations (product of bin counts).
    pub fn observation_count(&self) -> usize {
        self.binnings.iter().map(SignalBinning::bin_count).product()
    }

    /// `[P(o | incorrect), P(o | correct)]` for every joint observation index `o`.
    fn joint_likelihoods(&self) -> Vec<[f64; 2]> {
        let mut joint = vec![[1.0, 1.0]];
        for per_class in &self.likelihood {
            let bins = per_class[0].len();
            let mut next = Vec::with_capacity(joint.len() * bins);
            for prefix in &joint {
                for (incorrect, correct) in per_class[0].iter().zip(&per_class[1]) {
                    next.push([prefix[0] * incorrect, prefix[1] * correct]);
                }
            }
            joint = next;
        }
        joint
    }
}

/// Joint observation index of `values` under `binnings` (mixed radix, first signal most significant).
#[inline]
fn observation_index(binnings: &[SignalBinning], values: &SignalValues) -> usize {
    binnings.iter().fold(0, |index, b| index * b.bin_count() + b.bin(values))
}

/// Prior over which of the N models answer correctly; bit k of a state index = model k correct.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JointPrior {
    /// Number of models.
    pub models: usize,
    /// `2^models` probabilities.
    pub probabilities: Vec<f64>,
}

impl JointPrior {
    /// Models independent, each correct with its own accuracy.
    pub fn independent(accuracies: &[f64]) -> Result<Self, PomdpError> {
        if let Some(&bad) = accuracies.iter().find(|a| !(0.0..=1.0).contains(*a)) {
            return Err(PomdpError::BadAccuracy(bad));
        }
        let probabilities = (0..1usize << accuracies.len())
            .map(|state| accuracies.iter().enumerate().map(|(k, a)| if state >> k & 1 == 1 { *a } else { 1.0 - a }).product())
            .collect();
        Ok(Self { models: accuracies.len(), probabilities })
    }

    /// Posterior mean given observed correctness vectors, with `pseudo_rows` rows' worth of `base` as prior.
    ///
    /// This is how remote-model accuracy priors get refined once judged answers exist.
    pub fn refine(&self, outcomes: &[Vec<bool>], pseudo_rows: f64) -> Self {
        let mut counts: Vec<f64> = self.probabilities.iter().map(|p| p * pseudo_rows).collect();
        for outcome in outcomes.iter().filter(|o| o.len() == self.models) {
            let state = outcome.iter().enumerate().fold(0, |s, (k, c)| s | (usize::from(*c) << k));
            counts[state] += 1.0;
        }
        let total: f64 = counts.iter().sum();
        if total <= 0.0 {
            return self.clone();
        }
        Self { models: self.models, probabilities: counts.iter().map(|c| c / total).collect() }
    }

    /// Marginal probability that model `k` is correct.
    pub fn accuracy(&self, k: usize) -> f64 {
        self.probabilities.iter().enumerate().filter(|(s, _)| s >> k & 1 == 1).map(|(_, p)| p).sum()
    }

    fn validate(&self) -> Result<(), PomdpError> {
        let bad = |detail: String| Err(PomdpError::BadPrior { models: self.models, detail });
        if self.probabilities.len() != 1 << self.models {
            return bad(format!("{} probabilities given", self.probabilities.len()));
        }
        if self.probabilities.iter().any(|p| !p.is_finite() || *p < 0.0) {
            return bad("a probability is negative or not finite".to_owned());
        }
        let total: f64 = self.probabilities.iter().sum();
        if (total - 1.0).abs() > 1e-6 {
            return bad(format!("they sum to {total}"));
        }
        Ok(())
    }
}

/// One decision table: the visited models and an action per joint history of observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct PolicyNode {
    /// Visited models, starting at 0; the last one is the current model.
    path: Vec<usize>,
    /// Action code per history index (0 = keep, j = route to model j).
    actions: Vec<u8>,
}

/// A solved AutoMix-P policy for one λ: a lookup table per visited-model path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PomdpPolicy {
    /// Cost weight the policy was solved for.
    pub lambda: f64,
    /// Model names, small to large.
    pub models: Vec<String>,
    /// Binnings of each model that self-verifies (all but the last).
    binnings: Vec<Vec<SignalBinning>>,
    /// Whether each model's observations need its verifier.
    verifies: Vec<bool>,
    nodes: Vec<PolicyNode>,
}

impl PomdpPolicy {
    /// Decision after the small model (model 0) answered with `signals`: a single table lookup.
    #[inline]
    pub fn decide_first(&self, signals: &SignalValues) -> Action {
        let code = self.nodes[0].actions[observation_index(&self.binnings[0], signals)];
        Action::from_code(code)
    }

    /// Decision after visiting `visits` (model index and its signals), in order, starting at model 0.
    pub fn decide(&self, visits: &[(usize, &SignalValues)]) -> Result<Action, PomdpError> {
        let path: Vec<usize> = visits.iter().map(|(m, _)| *m).collect();
        let node = self.nodes.iter().find(|n| n.path == path).ok_or_else(|| PomdpError::UnknownPath(path.clone()))?;
        let index = visits.iter().fold(0, |index, (model, signals)| {
            let binnings = &self.binnings[*model];
            let radix: usize = binnings.iter().map(SignalBinning::bin_count).product();
            index * radix + observation_index(binnings, signals)
        });
        Ok(Action::from_code(node.actions[index]))
    }

    /// Whether the small model must run its self-verification before [`Self::decide_first`].
    pub fn slm_needs_verifier(&self) -> bool {
        self.verifies[0]
    }
}

/// Expected outcome of a solved policy under the fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PomdpSolution {
    /// The lookup-table policy.
    pub policy: PomdpPolicy,
    /// Expected correctness of the final answer.
    pub expected_performance: f64,
    /// Expected cost per query, including the small model's answer (and verification).
    pub expected_cost: f64,
    /// Probability that the small model's answer is not kept.
    pub escalation_rate: f64,
}

/// A cost target for choosing λ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "value")]
pub enum CostTarget {
    /// Share of queries escalated beyond the small model, at most this.
    EscalationFraction(f64),
    /// Expected cost per query, at most this (small-model calls as unit).
    AverageCost(f64),
}

/// The POMDP model; [`Pomdp::solve`] turns it into a policy for a given λ.
#[derive(Debug, Clone)]
pub struct Pomdp {
    models: Vec<ModelSpec>,
    observations: Vec<ObservationModel>,
    prior: JointPrior,
    joint: Vec<Vec<[f64; 2]>>,
    /// Cost of moving to model j (its answer, plus its verification if it observes a verifier).
    step_costs: Vec<f64>,
    /// All paths (visited models) with their table sizes; children[node][j] = node after routing to j.
    paths: Vec<Vec<usize>>,
    table_sizes: Vec<usize>,
    children: Vec<Vec<Option<usize>>>,
}

impl Pomdp {
    /// Checks shapes and precomputes joint likelihoods and the table layout.
    pub fn new(models: Vec<ModelSpec>, observations: Vec<ObservationModel>, prior: JointPrior) -> Result<Self, PomdpError> {
        let n = models.len();
        if n < 2 {
            return Err(PomdpError::TooFewModels(n));
        }
        if observations.len() != n - 1 {
            return Err(PomdpError::ObservationCount { expected: n - 1, found: observations.len() });
        }
        if prior.models != n {
            return Err(PomdpError::BadPrior { models: n, detail: format!("prior describes {} models", prior.models) });
        }
        prior.validate()?;
        for model in &observations {
            let count = model.observation_count();
            if count > MAX_TABLE_ENTRIES {
                return Err(PomdpError::TooLarge(count));
            }
        }
        let joint: Vec<Vec<[f64; 2]>> = observations.iter().map(|o| o.joint_likelihoods()).collect();
        let step_costs = models
            .iter()
            .enumerate()
            .map(|(j, m)| {
                let verifies = j < n - 1 && observations[j].needs_verifier();
                m.call_cost + if verifies { m.verify_cost } else { 0.0 }
            })
            .collect();

        let mut paths = vec![vec![0]];
        let mut table_sizes = vec![joint[0].len()];
        let mut children = vec![vec![None; n]];
        let mut node = 0;
        while node < paths.len() {
            let current = *paths[node].last().unwrap_or(&0);
            for j in current + 1..n - 1 {
                let size = table_sizes[node].saturating_mul(joint[j].len());
                if size > MAX_TABLE_ENTRIES {
                    return Err(PomdpError::TooLarge(size));
                }
                let mut path = paths[node].clone();
                path.push(j);
                children[node][j] = Some(paths.len());
                paths.push(path);
                table_sizes.push(size);
                children.push(vec![None; n]);
            }
            node += 1;
        }
        Ok(Self { models, observations, prior, joint, step_costs, paths, table_sizes, children })
    }

    /// Solves the POMDP exactly for cost weight `lambda`.
    pub fn solve(&self, lambda: f64) -> PomdpSolution {
        let mut tables: Vec<Vec<u8>> = self.table_sizes.iter().map(|s| vec![0u8; *s]).collect();
        let mut totals = Totals::default();
        let mut escalation_rate = 0.0;
        let mut weights = vec![0.0; self.prior.probabilities.len()];
        for (o, likelihood) in self.joint[0].iter().enumerate() {
            for (state, w) in weights.iter_mut().enumerate() {
                *w = self.prior.probabilities[state] * likelihood[state & 1];
            }
            let mass: f64 = weights.iter().sum();
            if mass == 0.0 {
                continue;
            }
            let (outcome, action) = self.best(lambda, 0, o, &weights, &mut tables);
            if action != 0 {
                escalation_rate += mass;
            }
            totals.add(&outcome);
        }
        let initial_cost = self.step_costs[0];
        PomdpSolution {
            policy: PomdpPolicy {
                lambda,
                models: self.models.iter().map(|m| m.name.clone()).collect(),
                binnings: self.observations.iter().map(|o| o.binnings.clone()).collect(),
                verifies: self.observations.iter().map(ObservationModel::needs_verifier).collect(),
                nodes: self.paths.iter().zip(tables).map(|(path, actions)| PolicyNode { path: path.clone(), actions }).collect(),
            },
            expected_performance: totals.performance,
            expected_cost: initial_cost + totals.cost,
            escalation_rate,
        }
    }

    /// Largest λ worth considering: above it no performance gain (≤ 1) pays for any escalation.
    pub fn lambda_ceiling(&self) -> f64 {
        let cheapest_step = self.step_costs[1..].iter().copied().fold(f64::INFINITY, f64::min);
        1.0 / cheapest_step.max(f64::MIN_POSITIVE)
    }

    /// The best-performing solution whose expected escalation or cost (under the model) meets `target`.
    pub fn solve_for_target(&self, target: CostTarget) -> Result<PomdpSolution, PomdpError> {
        let measure = |s: &PomdpSolution| match target {
            CostTarget::EscalationFraction(_) => s.escalation_rate,
            CostTarget::AverageCost(_) => s.expected_cost,
        };
        let limit = match target {
            CostTarget::EscalationFraction(f) | CostTarget::AverageCost(f) => f,
        };
        let mut high = self.lambda_ceiling() * (1.0 + 1e-9);
        let cheapest = self.solve(high);
        if measure(&cheapest) > limit + 1e-12 {
            return Err(PomdpError::UnreachableTarget { target: limit, cheapest: measure(&cheapest) });
        }
        let mut low = 0.0;
        let free = self.solve(low);
        if measure(&free) <= limit + 1e-12 {
            return Ok(free);
        }
        let mut best = cheapest;
        // Cost falls as λ rises; bisect for the smallest λ that meets the target.
        for _ in 0..60 {
            let mid = 0.5 * (low + high);
            let solution = self.solve(mid);
            if measure(&solution) <= limit + 1e-12 {
                high = mid;
                best = solution;
            } else {
                low = mid;
            }
        }
        Ok(best)
    }

    /// Best action at `node` for unnormalised belief `weights` (joint P(state, history)).
    fn best(&self, lambda: f64, node: usize, history: usize, weights: &[f64], tables: &mut [Vec<u8>]) -> (Totals, u8) {
        let n = self.models.len();
        let current = *self.paths[node].last().unwrap_or(&0);
        let mass: f64 = weights.iter().sum();
        let performance_of = |model: usize| -> f64 { weights.iter().enumerate().filter(|(s, _)| s >> model & 1 == 1).map(|(_, w)| w).sum() };
        let mut best = (Totals { performance: performance_of(current), cost: 0.0 }, 0u8);
        for j in current + 1..n {
            let step_cost = self.step_costs[j] * mass;
            let mut outcome = Totals { performance: 0.0, cost: step_cost };
            match self.children[node][j] {
                None => outcome.performance = performance_of(j),
                Some(child) => {
                    let radix = self.joint[j].len();
                    let mut next = vec![0.0; weights.len()];
                    for (o, likelihood) in self.joint[j].iter().enumerate() {
                        for (state, w) in next.iter_mut().enumerate() {
                            *w = weights[state] * likelihood[state >> j & 1];
                        }
                        if next.iter().sum::<f64>() == 0.0 {
                            continue;
                        }
                        let (sub, _) = self.best(lambda, child, history * radix + o, &next, tables);
                        outcome.add(&sub);
                    }
                }
            }
            // Strictly better only: ties keep the cheaper action (earlier in this loop).
            if outcome.reward(lambda) > best.0.reward(lambda) + 1e-12 * mass {
                best = (outcome, j as u8);
            }
        }
        tables[node][history] = best.1;
        best
    }
}

/// Expected performance and cost, weighted by the probability of the history reaching them.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    performance: f64,
    cost: f64,
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.performance += other.performance;
        self.cost += other.cost;
    }

    fn reward(&self, lambda: f64) -> f64 {
        self.performance - lambda * self.cost
    }
}
