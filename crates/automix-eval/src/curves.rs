//! Cost-performance curves and IBC / ΔIBC (AutoMix, NeurIPS 2024).
//!
//! Costs are in small-model calls: the SLM answer costs `slm_cost`, its self-verification
//! `verify_cost`, the LLM `llm_cost`; a routed query pays SLM + verifier (when the router reads
//! it) + LLM. The baseline is the straight line from the always-SLM point to the always-LLM point
//! (random mixing). ΔIBC is averaged over equal cost regions between the two.

use automix_router::{Action, RoutingPolicy, SignalValues};
use serde::{Deserialize, Serialize};

/// Unit costs of a two-model setup.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostModel {
    /// One small-model answer (1 by convention).
    pub slm_cost: f64,
    /// One self-verification (1 in the paper: one more SLM call).
    pub verify_cost: f64,
    /// One large-model answer (the cost ratio, e.g. 100).
    pub llm_cost: f64,
}

/// One operating point of a router on a set of rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Mean cost per query.
    pub cost: f64,
    /// Mean score per query.
    pub performance: f64,
}

/// A router's operating points, one per setting of its knob (λ, threshold, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Router name.
    pub router: String,
    /// Points in the order produced.
    pub points: Vec<CurvePoint>,
}

/// What routing needs to know about one evaluated query.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedQuery {
    /// Signals on the small model's answer.
    pub signals: SignalValues,
    /// Small model's score.
    pub slm_score: f64,
    /// Large model's score.
    pub llm_score: f64,
    /// The local answer's time with its checks, in ms, when recorded.
    pub local_ms: Option<f64>,
}

fn mean(values: impl Iterator<Item = f64>, count: usize) -> f64 {
    values.sum::<f64>() / count.max(1) as f64
}

/// The always-SLM and always-LLM points, which define the baseline line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anchors {
    /// (C_SLM, P_SLM).
    pub slm: CurvePoint,
    /// (C_LLM, P_LLM).
    pub llm: CurvePoint,
}

impl Anchors {
    /// Anchors of `queries` under `costs`.
    pub fn new(queries: &[RoutedQuery], costs: &CostModel) -> Self {
        let n = queries.len();
        Self {
            slm: CurvePoint { cost: costs.slm_cost, performance: mean(queries.iter().map(|q| q.slm_score), n) },
            llm: CurvePoint { cost: costs.llm_cost, performance: mean(queries.iter().map(|q| q.llm_score), n) },
        }
    }

    /// IBC of the baseline line; `None` when the LLM is not better or not dearer than the SLM.
    pub fn baseline_ibc(&self) -> Option<f64> {
        let gain = self.llm.performance - self.slm.performance;
        let spend = self.llm.cost - self.slm.cost;
        (gain > 0.0 && spend > 0.0).then(|| gain / spend)
    }
}

/// The operating point of `policy` on `queries`. A question sent to the large model without a
/// local answer pays the large model only.
pub fn policy_point(policy: &RoutingPolicy, queries: &[RoutedQuery], costs: &CostModel) -> CurvePoint {
    let base_cost = costs.slm_cost + if policy.needs_verifier() { costs.verify_cost } else { 0.0 };
    let (mut cost, mut performance) = (0.0, 0.0);
    for query in queries {
        if policy.skips_slm(&query.signals) {
            cost += costs.llm_cost;
            performance += query.llm_score;
            continue;
        }
        match policy.decide(&query.signals) {
            Action::Keep => {
                cost += base_cost;
                performance += query.slm_score;
            }
            Action::Route(_) => {
                cost += base_cost + costs.llm_cost;
                performance += query.llm_score;
            }
        }
    }
    let n = queries.len().max(1) as f64;
    CurvePoint { cost: cost / n, performance: performance / n }
}

/// Share of `queries` that `policy` sends to the remote model.
pub fn remote_share(policy: &RoutingPolicy, queries: &[RoutedQuery]) -> f64 {
    queries.iter().filter(|q| policy.decide(&q.signals) != Action::Keep).count() as f64 / queries.len().max(1) as f64
}

/// Mean local time (answer and checks) per remote call that `policy` saves by escalating before
/// answering, over the queries with a recorded time; `None` when it escalates none.
pub fn wait_saved_per_escalation_ms(policy: &RoutingPolicy, queries: &[RoutedQuery]) -> Option<f64> {
    let escalated: Vec<&RoutedQuery> = queries.iter().filter(|q| q.local_ms.is_some() && policy.decide(&q.signals) != Action::Keep).collect();
    let saved: f64 = escalated.iter().filter(|q| policy.skips_slm(&q.signals)).filter_map(|q| q.local_ms).sum();
    (!escalated.is_empty()).then(|| saved / escalated.len() as f64)
}

/// A router's setting for "the remote model's quality", and what it did on unseen rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QualityMatch {
    /// Share of the remote calls of always-remote that the setting did not make on the test rows.
    pub calls_saved: f64,
    /// Its test score minus always-remote's on the same rows (≥ −tolerance when the quality held).
    pub performance_gap: f64,
    /// Local time saved per remote call by escalating before answering (0 for a cascade).
    pub wait_saved_ms: Option<f64>,
}

/// The setting of a router a user would pick to keep the remote model's quality: among
/// `policies`, the one that escalates least on the `train` rows while scoring within `tolerance`
/// of always-remote there (chosen on training rows only, as a user's setting is chosen before the
/// questions come), measured on the `test` rows. Escalating everything always qualifies, so
/// `calls_saved` is never negative.
pub fn quality_matched(policies: &[RoutingPolicy], train: &[RoutedQuery], test: &[RoutedQuery], costs: &CostModel, tolerance: f64) -> QualityMatch {
    let remote_performance = |queries: &[RoutedQuery]| mean(queries.iter().map(|q| q.llm_score), queries.len());
    let score = |policy: &RoutingPolicy, queries: &[RoutedQuery]| policy_point(policy, queries, costs).performance;
    let target = remote_performance(train) - tolerance;
    // Each setting's training share and score, computed once: the least escalating qualifying
    // one wins, the better scoring of equal shares.
    let chosen = policies
        .iter()
        .map(|policy| (policy, remote_share(policy, train), score(policy, train)))
        .filter(|(_, _, train_score)| *train_score >= target - 1e-12)
        .min_by(|a, b| a.1.total_cmp(&b.1).then_with(|| b.2.total_cmp(&a.2)))
        .map(|(policy, _, _)| policy);
    match chosen {
        Some(policy) => QualityMatch {
            calls_saved: 1.0 - remote_share(policy, test),
            performance_gap: score(policy, test) - remote_performance(test),
            wait_saved_ms: wait_saved_per_escalation_ms(policy, test),
        },
        None => QualityMatch { calls_saved: 0.0, performance_gap: 0.0, wait_saved_ms: None },
    }
}

/// Random mixing in expectation: each query goes to the LLM alone with probability f, else to the
/// SLM alone; the points lie exactly on the baseline line.
pub fn random_mixing_curve(anchors: &Anchors, steps: usize) -> Vec<CurvePoint> {
    (0..=steps)
        .map(|k| {
            let f = k as f64 / steps.max(1) as f64;
            CurvePoint {
                cost: (1.0 - f) * anchors.slm.cost + f * anchors.llm.cost,
                performance: (1.0 - f) * anchors.slm.performance + f * anchors.llm.performance,
            }
        })
        .collect()
}

/// The oracle: knows both scores and sends each query to one model only, the LLM for the queries
/// where it gains most; no router can beat it at any cost.
pub fn oracle_curve(queries: &[RoutedQuery], costs: &CostModel) -> Vec<CurvePoint> {
    let n = queries.len().max(1) as f64;
    let mut gains: Vec<f64> = queries.iter().map(|q| q.llm_score - q.slm_score).collect();
    gains.sort_by(|a, b| b.total_cmp(a));
    let mut performance = mean(queries.iter().map(|q| q.slm_score), queries.len());
    let mut points = vec![CurvePoint { cost: costs.slm_cost, performance }];
    for (k, gain) in gains.iter().enumerate() {
        performance += gain / n;
        let routed = (k + 1) as f64 / n;
        points.push(CurvePoint { cost: (1.0 - routed) * costs.slm_cost + routed * costs.llm_cost, performance });
    }
    points
}

/// The curve a router can actually run: its points in cost order (points of equal cost averaged),
/// starting from the always-SLM anchor, joined by straight lines (randomising between two adjacent
/// settings). No upper hull is taken: picking the luckiest test points would flatter routers with
/// many settings.
pub fn operating_curve(points: &[CurvePoint], anchors: &Anchors) -> Vec<CurvePoint> {
    let mut sorted: Vec<CurvePoint> = points.to_vec();
    sorted.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    let mut curve: Vec<CurvePoint> = Vec::with_capacity(sorted.len() + 1);
    if sorted.first().is_none_or(|first| first.cost > anchors.slm.cost) {
        curve.push(anchors.slm);
    }
    let mut start = 0;
    while start < sorted.len() {
        let end = start + sorted[start..].iter().take_while(|p| p.cost == sorted[start].cost).count();
        let group = &sorted[start..end];
        let performance = group.iter().map(|p| p.performance).sum::<f64>() / group.len() as f64;
        curve.push(CurvePoint { cost: sorted[start].cost, performance });
        start = end;
    }
    curve
}

/// Performance of a curve at `cost` by linear interpolation (held flat outside its cost range).
fn curve_performance(curve: &[CurvePoint], cost: f64) -> f64 {
    let Some(first) = curve.first() else { return f64::NAN };
    if cost <= first.cost {
        return first.performance;
    }
    for pair in curve.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if cost <= b.cost {
            return a.performance + (b.performance - a.performance) * (cost - a.cost) / (b.cost - a.cost);
        }
    }
    curve.last().map_or(f64::NAN, |p| p.performance)
}

/// ΔIBC of a curve: per cost region and their mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeltaIbc {
    /// Mean over regions, in percent.
    pub mean: f64,
    /// One value per equal cost region between C_SLM and C_LLM, in percent.
    pub per_region: Vec<f64>,
}

/// Samples per region when averaging ΔIBC over a region.
const SAMPLES_PER_REGION: usize = 20;

/// ΔIBC of a router's [`operating_curve`] against the baseline line, averaged within each of
/// `regions` equal cost regions of [C_SLM, C_LLM]; `None` when the baseline IBC is not positive.
pub fn delta_ibc(points: &[CurvePoint], anchors: &Anchors, regions: usize) -> Option<DeltaIbc> {
    let base = anchors.baseline_ibc()?;
    let curve = operating_curve(points, anchors);
    let span = anchors.llm.cost - anchors.slm.cost;
    let per_region: Vec<f64> = (0..regions.max(1))
        .map(|r| {
            let region_width = span / regions.max(1) as f64;
            let total: f64 = (0..SAMPLES_PER_REGION)
                .map(|s| {
                    let offset = (s as f64 + 0.5) / SAMPLES_PER_REGION as f64;
                    let cost = anchors.slm.cost + region_width * (r as f64 + offset);
                    let ibc = (curve_performance(&curve, cost) - anchors.slm.performance) / (cost - anchors.slm.cost);
                    (ibc - base) / base * 100.0
                })
                .sum();
            total / SAMPLES_PER_REGION as f64
        })
        .collect();
    let mean = per_region.iter().sum::<f64>() / per_region.len() as f64;
    Some(DeltaIbc { mean, per_region })
}
