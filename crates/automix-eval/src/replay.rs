//! Learning that keeps going, measured on a replayed stream of questions. The router starts from a
//! calibration fitted on the other sets (as the app meets a user's documents with a calibration
//! fitted elsewhere) and routes each question of the stream in turn. With learning on, the answers
//! judged so far move its prior accuracy by the app's own rule (`automix_router::learning`): an
//! escalated answer judges the local one by agreement with the remote answer
//! (`automix_qa::agrees_with`), and the user rates a share of the kept answers (👍/👎, truthfully).
//! Both routers see the same stream; ΔIBC is over the stream's own always-local/always-remote line.

use automix_qa::agrees_with;
use automix_router::learning::{learned_accuracy, recent_judgements};
use automix_router::{LabelledSignals, Pomdp, RoutingRow, Signal};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::curves::{delta_ibc, Anchors, CostModel, CurvePoint, RoutedQuery};
use crate::evaluate::{fit_observations, independent_pomdp, lambdas, routed_query, summarise, EvalError, EvalOptions, NamedTable, ReplayResult};

/// Settings of a replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayOptions {
    /// Questions per stream, drawn with replacement from the set's rows.
    pub questions: usize,
    /// Streams per set (seeds 0..seeds).
    pub seeds: u64,
    /// Share of kept local answers the user rates.
    pub feedback_share: f64,
    /// Every how many-th λ of the evaluation's sweep is replayed.
    pub lambda_stride: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions { questions: 1000, seeds: 5, feedback_share: 0.1, lambda_stride: 5 }
    }
}

/// Replays every table that has the remote model's answers and at least one other table to
/// calibrate on.
pub fn replay(tables: &[NamedTable], options: &EvalOptions, replay: &ReplayOptions) -> Result<Vec<ReplayResult>, EvalError> {
    let costs = CostModel { slm_cost: 1.0, verify_cost: options.verify_cost, llm_cost: options.cost_ratio };
    let mut results = Vec::new();
    for table in tables {
        let rows: Vec<&RoutingRow> = table.rows.iter().filter(|row| row.llm_answer(&options.llm_model).is_some()).collect();
        let others: Vec<&RoutingRow> = tables.iter().filter(|t| t.name != table.name).flat_map(|t| &t.rows).collect();
        if rows.len() < 4 || others.is_empty() {
            continue;
        }
        let labelled: Vec<LabelledSignals> = others.iter().map(|row| row.labelled_signals()).collect();
        let signals: Vec<Signal> = options.pomdp_signals.iter().copied().filter(|s| labelled.iter().any(|r| s.value(&r.signals).is_some())).collect();
        let (observations, calibration_accuracy) = fit_observations(&labelled, signals, options)?;
        let judged_remote: Vec<bool> = others.iter().filter_map(|row| row.llm_answer(&options.llm_model)).map(|a| a.correct()).collect();
        let remote_accuracy = if judged_remote.is_empty() { 0.8 } else { judged_remote.iter().filter(|&&c| c).count() as f64 / judged_remote.len() as f64 };
        let pomdp = |local: f64| -> Result<Pomdp, EvalError> { Ok(independent_pomdp(&observations, local, remote_accuracy, &costs, options)?) };
        let sweep: Vec<f64> = lambdas(&pomdp(calibration_accuracy)?).into_iter().step_by(replay.lambda_stride.max(1)).collect();
        let stream_setup = StreamSetup { calibration_accuracy, calibration_rows: labelled.len(), costs, options, replay };
        let (mut fixed, mut learning, mut learned) = (Vec::new(), Vec::new(), Vec::new());
        for seed in 0..replay.seeds {
            let mut rng = StdRng::seed_from_u64(seed);
            let stream: Vec<&RoutingRow> = (0..replay.questions).map(|_| rows[rng.random_range(0..rows.len())]).collect();
            let queries: Vec<RoutedQuery> =
                stream.iter().map(|row| routed_query(row, row.llm_answer(&options.llm_model).expect("replayed rows carry the remote answer"))).collect();
            let anchors = Anchors::new(&queries, &costs);
            let mut curves = [Vec::new(), Vec::new()];
            for (k, &lambda) in sweep.iter().enumerate() {
                for (curve, learns) in curves.iter_mut().zip([false, true]) {
                    let outcome = stream_setup.run(&stream, &pomdp, lambda, learns, seed)?;
                    if learns && k == sweep.len() / 2 {
                        learned.push(outcome.final_prior);
                    }
                    curve.push(outcome.point);
                }
            }
            if let (Some(f), Some(l)) = (delta_ibc(&curves[0], &anchors, options.regions), delta_ibc(&curves[1], &anchors, options.regions)) {
                fixed.push(f.mean);
                learning.push(l.mean);
            }
        }
        if fixed.is_empty() {
            continue;
        }
        let agreement = rows
            .iter()
            .filter_map(|row| row.llm_answer(&options.llm_model).map(|remote| agrees_with(&row.slm.answer, &remote.answer) == row.slm.correct()))
            .filter(|&same| same)
            .count() as f64
            / rows.len() as f64;
        results.push(ReplayResult {
            table: table.name.clone(),
            fixed: summarise("fixed calibration".into(), fixed),
            learning: summarise("learning as it goes".into(), learning),
            calibration_accuracy,
            set_accuracy: rows.iter().filter(|row| row.slm.correct()).count() as f64 / rows.len() as f64,
            learned_accuracy: summarise("learned prior".into(), learned),
            agreement_judges_right: agreement,
        });
    }
    Ok(results)
}

struct StreamSetup<'a> {
    calibration_accuracy: f64,
    calibration_rows: usize,
    costs: CostModel,
    options: &'a EvalOptions,
    replay: &'a ReplayOptions,
}

struct StreamOutcome {
    point: CurvePoint,
    final_prior: f64,
}

impl StreamSetup<'_> {
    /// Routes the stream in order at `lambda`; with `learns`, every judged answer moves the prior
    /// before the next question, as in the app.
    fn run(
        &self,
        stream: &[&RoutingRow],
        pomdp: &dyn Fn(f64) -> Result<Pomdp, EvalError>,
        lambda: f64,
        learns: bool,
        seed: u64,
    ) -> Result<StreamOutcome, EvalError> {
        let mut feedback = StdRng::seed_from_u64(seed ^ 0x5eed);
        let mut judged: Vec<bool> = Vec::new();
        let mut prior = self.calibration_accuracy;
        let mut policy = pomdp(prior)?.solve(lambda).policy;
        let (mut cost, mut performance) = (0.0, 0.0);
        for row in stream {
            let remote = row.llm_answer(&self.options.llm_model).expect("replayed rows carry the remote answer");
            let base = self.costs.slm_cost + if policy.slm_needs_verifier() { self.costs.verify_cost } else { 0.0 };
            if policy.decide_first(&row.signals_with_question()) == automix_router::Action::Keep {
                cost += base;
                performance += row.slm.score;
                if feedback.random::<f64>() < self.replay.feedback_share {
                    judged.push(row.slm.correct());
                }
            } else {
                cost += base + self.costs.llm_cost;
                performance += remote.score;
                judged.push(agrees_with(&row.slm.answer, &remote.answer));
            }
            if learns {
                let next = learned_accuracy(self.calibration_accuracy, self.calibration_rows, recent_judgements(&judged));
                if (next - prior).abs() > 1e-9 {
                    prior = next;
                    policy = pomdp(prior)?.solve(lambda).policy;
                }
            }
        }
        let n = stream.len().max(1) as f64;
        Ok(StreamOutcome { point: CurvePoint { cost: cost / n, performance: performance / n }, final_prior: prior })
    }
}
