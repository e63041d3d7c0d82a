//! The `automix eval` harness: train/test splits over seeds, every router's test curve, ΔIBC,
//! and signal quality (AUROC, calibration error) against small-model correctness.

use automix_router::{
    fit_calibration, select_signals, Action, Calibration, CalibrationOptions, CostTarget, JointPrior, LabelledSignals, LogisticScorer, ModelSpec,
    ObservationModel, Pomdp, PreAnswerModel, PreAnswerPolicy, RoutingPolicy, ScoreRouter, SelectionSettings, Signal, Smoothing, ThresholdRouter,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::curves::{delta_ibc, oracle_curve, policy_point, quality_matched, random_mixing_curve, Anchors, CostModel, Curve, QualityMatch, RoutedQuery};
use crate::metrics::{auroc, expected_calibration_error, Reliability};
use automix_router::RoutingRow;

/// Router names as they appear in reports.
pub const AUTOMIX_P: &str = "AutoMix-P";
/// AutoMix-P on a given calibration (the app's shipped one), as it is.
pub const AUTOMIX_P_SHIPPED: &str = "AutoMix-P, shipped calibration";
/// AutoMix-P that may escalate before answering (from the question's own signals).
pub const AUTOMIX_P_BEFORE_ANSWERING: &str = "AutoMix-P, deciding before answering";
/// AutoMix-P restricted to the verifier signal.
pub const AUTOMIX_P_VERIFIER: &str = "AutoMix-P (verifier only)";
/// Threshold on the verifier.
pub const AUTOMIX_T: &str = "AutoMix-T";
/// Logistic regression on cheap features.
pub const LEARNED_SCORER: &str = "Learned scorer";
/// The baseline line.
pub const RANDOM_MIXING: &str = "Random mixing";
/// Knows both answers' scores.
pub const ORACLE: &str = "Oracle";

/// Pseudo-rows of the independent prior when refining the joint SLM/LLM prior on training rows.
const PRIOR_PSEUDO_ROWS: f64 = 10.0;
/// λ settings per AutoMix-P curve.
const LAMBDA_STEPS: usize = 200;

/// Errors of the evaluation harness.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading a table failed.
    #[error(transparent)]
    Table(#[from] automix_router::TableError),
    /// A table has too few rows with the chosen remote model's answer.
    #[error(
        "table {table}: {usable} rows carry an answer of remote model `{model}` (need at least 4; models seen: {seen}); pass --llm-model with one of them"
    )]
    TooFewRows {
        /// Table name.
        table: String,
        /// Rows usable.
        usable: usize,
        /// Requested model.
        model: String,
        /// Models present in the table.
        seen: String,
    },
    /// Options out of range.
    #[error("invalid evaluation option: {0}")]
    Options(String),
    /// Building a router failed.
    #[error("router: {0}")]
    Router(#[from] automix_router::PomdpError),
    /// Fitting the calibration failed.
    #[error(transparent)]
    Calibration(#[from] automix_router::CalibrationError),
    /// Writing the report or plot failed.
    #[error("cannot write {path}: {detail}")]
    Output {
        /// The file.
        path: String,
        /// The cause.
        detail: String,
    },
}

/// Settings of an evaluation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalOptions {
    /// LLM cost in SLM calls.
    pub cost_ratio: f64,
    /// Verification cost in SLM calls.
    pub verify_cost: f64,
    /// Remote model name (or prefix) among the rows' recorded answers.
    pub llm_model: String,
    /// Share of rows used for fitting; the rest is the test split.
    pub train_fraction: f64,
    /// Number of random splits (seeds 0..seeds).
    pub seeds: u64,
    /// Equal cost regions for ΔIBC.
    pub regions: usize,
    /// Signals AutoMix-P may use (those present in the rows).
    pub pomdp_signals: Vec<Signal>,
    /// Quantile bins per continuous signal in AutoMix-P.
    pub bins_per_signal: usize,
    /// AutoMix-P observes one logistic combination of its signals (as the app's calibration
    /// does) instead of a naive-Bayes product of each.
    pub combine: bool,
    /// How AutoMix-P's histograms become likelihoods.
    pub smoothing: Smoothing,
    /// Choose AutoMix-P's signals by cross-validation on each training split (else use all).
    pub select_signals: bool,
    /// Verifier signal for AutoMix-T; `None` picks v_logit, else v_sample.
    pub verifier_signal: Option<Signal>,
    /// Features of the learned scorer.
    pub scorer_features: Vec<Signal>,
    /// Fit the routers of each table on its training split plus every row of the other tables,
    /// as the app's calibration is fitted on many sets and then meets a new one.
    #[serde(default)]
    pub pooled: bool,
    /// A calibration fitted elsewhere (e.g. the one the app ships for the local model): also
    /// route with it as it is ("AutoMix-P, shipped calibration"), the app's own path; only the
    /// joint prior comes from each training split.
    #[serde(skip)]
    pub given_calibration: Option<Calibration>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            cost_ratio: 100.0,
            verify_cost: 1.0,
            llm_model: "gpt-4".to_owned(),
            train_fraction: 0.5,
            seeds: 10,
            regions: 5,
            pomdp_signals: Signal::ALL.to_vec(),
            bins_per_signal: automix_router::DEFAULT_BINS_PER_SIGNAL,
            combine: true,
            smoothing: Smoothing::default(),
            select_signals: true,
            verifier_signal: None,
            pooled: false,
            given_calibration: None,
            scorer_features: vec![Signal::AnswerLogprob, Signal::AnswerTokens, Signal::Grounded, Signal::RetrievalScore],
        }
    }
}

/// A routing table with a display name (usually the file stem).
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTable {
    /// Display name.
    pub name: String,
    /// Its rows.
    pub rows: Vec<RoutingRow>,
}

/// ΔIBC of one router over the seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouterSummary {
    /// Router name.
    pub router: String,
    /// ΔIBC per seed (test split), percent.
    pub per_seed: Vec<f64>,
    /// Mean over seeds.
    pub mean: f64,
    /// Sample standard deviation over seeds.
    pub std: f64,
}

/// How well one signal predicts small-model correctness on all usable rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalQuality {
    /// The signal.
    pub signal: Signal,
    /// Rows where it was measured.
    pub rows: usize,
    /// AUROC for predicting correctness (higher = more confident when correct).
    pub auroc: Option<f64>,
    /// Expected calibration error (10 bins), for signals that are probabilities.
    pub ece: Option<f64>,
}

/// Evaluation of one table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Rows in the file.
    pub rows: usize,
    /// Rows with the remote model's answer (evaluated).
    pub usable_rows: usize,
    /// Remote model answers used (exact names seen).
    pub llm_models: Vec<String>,
    /// Mean SLM score on usable rows.
    pub slm_performance: f64,
    /// Mean LLM score on usable rows.
    pub llm_performance: f64,
    /// Share of usable rows the SLM got right.
    pub slm_accuracy: f64,
    /// ΔIBC per router; empty when the LLM is not better than the SLM.
    pub routers: Vec<RouterSummary>,
    /// Signal quality.
    pub signals: Vec<SignalQuality>,
    /// Test curves of the first seed, for plotting.
    pub first_seed_curves: Vec<Curve>,
    /// Anchors of the first seed's test split.
    pub first_seed_anchors: Anchors,
    /// AutoMix-P's λ-for-budget choice: expected versus realized escalation.
    pub budget: Vec<BudgetCheck>,
    /// LLM accuracy on rows where the SLM was wrong and right: far apart means the two are
    /// correlated, which an independent (factored) remote prior ignores.
    pub llm_accuracy_given_slm: [Option<f64>; 2],
    /// Tokens the verification processed per token of the answer call (prompt + generated): a
    /// measured alternative to the paper's "verification costs one SLM call".
    pub verify_token_share: Option<f64>,
    /// Mean recorded cost of one remote call (rows whose remote answer was recorded through the
    /// app's client, with its price), and its currency.
    #[serde(default)]
    pub remote_cost_per_call: Option<(f64, String)>,
    /// Test-split AUROC of AutoMix-P's P(SLM correct | selected signals) over the seeds.
    pub combined_auroc: Option<RouterSummary>,
    /// Test-split expected calibration error (10 bins) of that posterior over the seeds.
    pub combined_ece: Option<RouterSummary>,
    /// That posterior against the observed rate of right answers, pooled over the seeds' test splits.
    pub reliability: Reliability,
    /// Whether the rows carry the remote model's answers; without them only the local answer's
    /// confidence is evaluated (no routing curves, ΔIBC or budget checks).
    pub remote_answers: bool,
    /// Signals AutoMix-P used, with the number of seeds that selected each.
    pub selected_signals: Vec<(Signal, usize)>,
    /// A given calibration (e.g. the bundled one) on every row of the table, fitted on nothing here.
    pub given_calibration: Option<GivenCalibration>,
    /// Per router: the remote calls saved against always-remote at the remote model's quality
    /// (setting chosen on the training split, measured on the test split), over the seeds.
    #[serde(default)]
    pub at_remote_quality: Vec<AtRemoteQuality>,
}

/// What a router saves while keeping the remote model's quality (within [`QUALITY_TOLERANCE`]):
/// the figure a user reads as "money saved".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AtRemoteQuality {
    /// Share of always-remote's calls not made, per seed (`router` names the router).
    pub calls_saved: RouterSummary,
    /// Test score minus always-remote's, per seed.
    pub performance_gap: RouterSummary,
    /// Local time saved per remote call by escalating before answering, per seed (seeds where it
    /// escalated and the rows carry times).
    pub wait_saved_ms: Option<RouterSummary>,
}

/// How a calibration fitted elsewhere does on a table: its posterior with its own prior, as the
/// app computes `local_confidence` before it has learned anything from use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GivenCalibration {
    /// The calibration's model id.
    pub model: String,
    /// AUROC of its posterior for right answers.
    pub auroc: Option<f64>,
    /// Expected calibration error (10 bins) of its posterior.
    pub ece: Option<f64>,
    /// Mean posterior against the table's rate of right answers.
    pub mean_confidence: f64,
}

/// Scores `calibration`'s posterior on `rows`.
pub fn given_calibration(calibration: &Calibration, rows: &[RoutingRow], smoothing: &Smoothing) -> GivenCalibration {
    let model = ObservationModel::from_calibration(calibration, smoothing);
    let prior = calibration.slm_accuracy();
    let (posteriors, labels): (Vec<f64>, Vec<bool>) = rows.iter().map(|row| (model.posterior(prior, &row.signals), row.slm.correct())).unzip();
    GivenCalibration {
        model: calibration.slm_model.clone(),
        auroc: auroc(&posteriors, &labels),
        ece: expected_calibration_error(&posteriors, &labels, RELIABILITY_BINS),
        mean_confidence: posteriors.iter().sum::<f64>() / posteriors.len().max(1) as f64,
    }
}

/// Bins of a reliability diagram and of the expected calibration error.
pub const RELIABILITY_BINS: usize = 10;

/// Everything `automix eval` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The options used.
    pub options: EvalOptions,
    /// One report per table.
    pub tables: Vec<TableReport>,
    /// Replayed streams, when asked for.
    #[serde(default)]
    pub replay: Vec<ReplayResult>,
}

/// The replay of one set (`crate::replay`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayResult {
    /// The set.
    pub table: String,
    /// ΔIBC (%) of the router on its fixed calibration, per stream.
    pub fixed: RouterSummary,
    /// ΔIBC (%) of the router that learns as it goes, per stream.
    pub learning: RouterSummary,
    /// The calibration's prior accuracy (fitted on the other sets).
    pub calibration_accuracy: f64,
    /// The set's own rate of right local answers.
    pub set_accuracy: f64,
    /// The learned prior at the end of each stream, at the middle λ of the sweep.
    pub learned_accuracy: RouterSummary,
    /// How often agreement with the remote answer says what the gold answers say about the local one.
    pub agreement_judges_right: f64,
}

/// Evaluates every table separately.
pub fn evaluate(tables: &[NamedTable], options: &EvalOptions) -> Result<EvalReport, EvalError> {
    if !(options.train_fraction > 0.0 && options.train_fraction < 1.0) {
        return Err(EvalError::Options(format!("train fraction {} must be in (0, 1)", options.train_fraction)));
    }
    if options.seeds == 0 || options.cost_ratio <= 1.0 {
        return Err(EvalError::Options("need seeds ≥ 1 and a cost ratio above 1".to_owned()));
    }
    let reports = tables
        .iter()
        .map(|table| {
            let pool: Vec<LabelledSignals> = if options.pooled {
                tables.iter().filter(|other| other.name != table.name).flat_map(|other| other.rows.iter().map(RoutingRow::labelled_signals)).collect()
            } else {
                Vec::new()
            };
            evaluate_table(table, &pool, options)
        })
        .collect::<Result<_, _>>()?;
    Ok(EvalReport { options: options.clone(), tables: reports, replay: Vec::new() })
}

struct UsableRow {
    query: RoutedQuery,
    labelled: LabelledSignals,
    llm_correct: bool,
}

/// The rows that can be evaluated against `options.llm_model`, and the remote models that
/// answered them. Without any remote answer in the table every row is usable (scored against a
/// remote that is always wrong), so the table still tells how good the local confidence is.
struct UsableRows {
    rows: Vec<UsableRow>,
    llm_models: Vec<String>,
    remote_answers: bool,
}

fn usable_rows(table: &NamedTable, options: &EvalOptions) -> Result<UsableRows, EvalError> {
    let mut llm_models: Vec<String> = Vec::new();
    let remote_answers = table.rows.iter().any(|row| !row.llm.is_empty());
    let no_remote = automix_router::ScoredAnswer::default();
    let rows: Vec<UsableRow> = table
        .rows
        .iter()
        .filter_map(|row| {
            let llm = if remote_answers { row.llm_answer(&options.llm_model)? } else { &no_remote };
            if remote_answers && !llm_models.contains(&llm.model) {
                llm_models.push(llm.model.clone());
            }
            Some(UsableRow { query: routed_query(row, llm), labelled: row.labelled_signals(), llm_correct: llm.correct() })
        })
        .collect();
    if rows.len() < 4 {
        let mut seen: Vec<&str> = table.rows.iter().flat_map(|r| r.llm.iter().map(|a| a.model.as_str())).collect();
        seen.sort_unstable();
        seen.dedup();
        return Err(EvalError::TooFewRows {
            table: table.name.clone(),
            usable: rows.len(),
            model: options.llm_model.clone(),
            seen: if seen.is_empty() { "none".to_owned() } else { seen.join(", ") },
        });
    }
    Ok(UsableRows { rows, llm_models, remote_answers })
}

/// Seed `seed`'s split of `len` rows: a shuffled order cut at the training fraction, keeping at
/// least one row on each side.
fn split(len: usize, seed: u64, train_fraction: f64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..len).collect();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let train_len = ((len as f64 * train_fraction).round() as usize).clamp(1, len - 1);
    let test = order.split_off(train_len);
    (order, test)
}

/// What the seeds add up to for one table.
struct SeedTotals {
    per_router: Vec<(String, Vec<f64>)>,
    selected: Vec<(Signal, usize)>,
    combined_auroc: Vec<f64>,
    combined_ece: Vec<f64>,
    reliability: Reliability,
    budget: Vec<BudgetCheck>,
    matched: Vec<(String, Vec<QualityMatch>)>,
}

impl SeedTotals {
    fn new() -> Self {
        SeedTotals {
            per_router: Vec::new(),
            selected: Vec::new(),
            combined_auroc: Vec::new(),
            combined_ece: Vec::new(),
            reliability: Reliability::new(RELIABILITY_BINS),
            budget: BUDGET_TARGETS.iter().map(|&target| BudgetCheck { target, predicted: 0.0, realized: 0.0 }).collect(),
            matched: Vec::new(),
        }
    }

    fn add_quality_matched(&mut self, matched: Vec<(String, QualityMatch)>) {
        for (router, point) in matched {
            match self.matched.iter_mut().find(|(name, _)| *name == router) {
                Some((_, points)) => points.push(point),
                None => self.matched.push((router, vec![point])),
            }
        }
    }

    /// Counts how often each signal was chosen.
    fn count_selected(&mut self, signals: &[Signal]) {
        for signal in signals {
            match self.selected.iter_mut().find(|(s, _)| s == signal) {
                Some((_, count)) => *count += 1,
                None => self.selected.push((*signal, 1)),
            }
        }
    }

    fn add_posteriors(&mut self, posteriors: &[f64], labels: &[bool]) {
        self.combined_auroc.extend(auroc(posteriors, labels));
        self.combined_ece.extend(expected_calibration_error(posteriors, labels, RELIABILITY_BINS));
        self.reliability.add(posteriors, labels);
    }

    /// Adds one seed's budget checks, each weighted 1/`seeds`.
    fn add_budget(&mut self, checks: &[BudgetCheck], seeds: usize) {
        for (sum, check) in self.budget.iter_mut().zip(checks) {
            sum.predicted += check.predicted / seeds as f64;
            sum.realized += check.realized / seeds as f64;
        }
    }

    /// Adds each curve's ΔIBC over the seed's anchors.
    fn add_curves(&mut self, curves: &[Curve], anchors: &Anchors, regions: usize) {
        if anchors.baseline_ibc().is_none() {
            return;
        }
        for curve in curves {
            let Some(delta) = delta_ibc(&curve.points, anchors, regions) else { continue };
            match self.per_router.iter_mut().find(|(name, _)| *name == curve.router) {
                Some((_, values)) => values.push(delta.mean),
                None => self.per_router.push((curve.router.clone(), vec![delta.mean])),
            }
        }
    }
}

fn evaluate_table(table: &NamedTable, pool: &[LabelledSignals], options: &EvalOptions) -> Result<TableReport, EvalError> {
    let UsableRows { rows: usable, llm_models, remote_answers } = usable_rows(table, options)?;
    let costs = CostModel { slm_cost: 1.0, verify_cost: options.verify_cost, llm_cost: options.cost_ratio };
    let queries: Vec<RoutedQuery> = usable.iter().map(|u| u.query.clone()).collect();
    let all_anchors = Anchors::new(&queries, &costs);
    let verifier = verifier_signal(&usable, options);

    let mut totals = SeedTotals::new();
    let mut first_seed_curves = Vec::new();
    let mut first_seed_anchors = all_anchors;
    for seed in 0..options.seeds {
        let (train, test) = split(usable.len(), seed, options.train_fraction);
        let train: Vec<&UsableRow> = train.iter().map(|&i| &usable[i]).collect();
        let test: Vec<RoutedQuery> = test.iter().map(|&i| usable[i].query.clone()).collect();
        let anchors = Anchors::new(&test, &costs);
        let labelled: Vec<LabelledSignals> = train.iter().map(|u| u.labelled.clone()).chain(pool.iter().cloned()).collect();
        let signals = pomdp_signals(&labelled, options);
        totals.count_selected(&signals);
        // The prior is this set's own rate of right answers on its training split: the app's
        // router likewise moves its prior to the rate the user's judged answers show.
        let own_accuracy = train.iter().filter(|u| u.labelled.correct).count() as f64 / train.len() as f64;
        if let Some((posteriors, labels)) = test_posteriors(&labelled, &signals, &test, own_accuracy, options) {
            totals.add_posteriors(&posteriors, &labels);
        }
        if !remote_answers {
            continue;
        }
        let SeedCurves { curves, matched } = seed_curves(&train, &labelled, &test, &anchors, &costs, verifier, &signals, options)?;
        totals.add_quality_matched(matched);
        let pomdp = fit_pomdp(&train, &labelled, signals, &costs, options)?;
        totals.add_budget(&budget_checks(&pomdp, &test)?, options.seeds as usize);
        totals.add_curves(&curves, &anchors, options.regions);
        if seed == 0 {
            first_seed_curves = curves;
            first_seed_anchors = anchors;
        }
    }
    let labels: Vec<bool> = usable.iter().map(|u| u.labelled.correct).collect();
    if !remote_answers {
        totals.budget.clear();
    }
    let SeedTotals { per_router, selected, combined_auroc, combined_ece, reliability, budget, matched } = totals;
    Ok(TableReport {
        table: table.name.clone(),
        rows: table.rows.len(),
        usable_rows: usable.len(),
        llm_models,
        slm_performance: all_anchors.slm.performance,
        llm_performance: all_anchors.llm.performance,
        slm_accuracy: labels.iter().filter(|c| **c).count() as f64 / labels.len() as f64,
        llm_accuracy_given_slm: if remote_answers { llm_accuracy_given_slm(&usable) } else { [None, None] },
        verify_token_share: verify_token_share(&table.rows),
        remote_cost_per_call: remote_cost_per_call(&table.rows, &options.llm_model),
        combined_auroc: (!combined_auroc.is_empty()).then(|| summarise("AutoMix-P posterior".to_owned(), combined_auroc)),
        combined_ece: (!combined_ece.is_empty()).then(|| summarise("AutoMix-P posterior".to_owned(), combined_ece)),
        reliability,
        remote_answers,
        routers: per_router.into_iter().map(|(router, values)| summarise(router, values)).collect(),
        signals: signal_quality(&usable),
        first_seed_curves,
        first_seed_anchors,
        budget,
        at_remote_quality: matched
            .into_iter()
            .map(|(router, points)| AtRemoteQuality {
                calls_saved: summarise(router.clone(), points.iter().map(|p| p.calls_saved).collect()),
                performance_gap: summarise(router.clone(), points.iter().map(|p| p.performance_gap).collect()),
                wait_saved_ms: {
                    let waits: Vec<f64> = points.iter().filter_map(|p| p.wait_saved_ms).collect();
                    (!waits.is_empty()).then(|| summarise(router, waits))
                },
            })
            .collect(),
        selected_signals: selected,
        given_calibration: None,
    })
}

pub(crate) fn summarise(router: String, per_seed: Vec<f64>) -> RouterSummary {
    let n = per_seed.len() as f64;
    let mean = per_seed.iter().sum::<f64>() / n;
    let std = if per_seed.len() > 1 { (per_seed.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 0.0 };
    RouterSummary { router, per_seed, mean, std }
}

fn verifier_signal(usable: &[UsableRow], options: &EvalOptions) -> Option<Signal> {
    let present = |s: Signal| usable.iter().any(|u| s.value(&u.query.signals).is_some());
    match options.verifier_signal {
        Some(signal) => present(signal).then_some(signal),
        None => [Signal::VLogit, Signal::VSample].into_iter().find(|s| present(*s)),
    }
}

fn signal_quality(usable: &[UsableRow]) -> Vec<SignalQuality> {
    Signal::ALL
        .iter()
        .filter_map(|&signal| {
            let (values, labels): (Vec<f64>, Vec<bool>) = usable.iter().filter_map(|u| Some((signal.value(&u.query.signals)?, u.labelled.correct))).unzip();
            if values.is_empty() {
                return None;
            }
            let ece = signal.needs_verifier().then(|| expected_calibration_error(&values, &labels, 10)).flatten();
            Some(SignalQuality { signal, rows: values.len(), auroc: auroc(&values, &labels), ece })
        })
        .collect()
}

/// Every router's test curve for one split.
#[allow(clippy::too_many_arguments)]
fn seed_curves(
    train: &[&UsableRow],
    labelled: &[LabelledSignals],
    test: &[RoutedQuery],
    anchors: &Anchors,
    costs: &CostModel,
    verifier: Option<Signal>,
    pomdp_signals: &[Signal],
    options: &EvalOptions,
) -> Result<SeedCurves, EvalError> {
    let mut swept: Vec<(&str, Vec<RoutingPolicy>)> = Vec::new();
    let pomdp_policies =
        |signals: Vec<Signal>| -> Result<Vec<RoutingPolicy>, EvalError> { Ok(lambda_sweep(&fit_pomdp(train, labelled, signals, costs, options)?)) };
    swept.push((AUTOMIX_P, pomdp_policies(pomdp_signals.to_vec())?));
    if let Some(calibration) = &options.given_calibration {
        let observations = (ObservationModel::from_calibration(calibration, &options.smoothing), calibration.slm_accuracy());
        swept.push((AUTOMIX_P_SHIPPED, lambda_sweep(&pomdp_on(train, observations, costs, options)?)));
    }
    let sweep_lambdas = lambdas(&fit_pomdp(train, labelled, pomdp_signals.to_vec(), costs, options)?);
    let before = pre_answer_sweep(train, labelled, pomdp_signals.to_vec(), &sweep_lambdas, costs, options)?;
    if !before.is_empty() {
        swept.push((AUTOMIX_P_BEFORE_ANSWERING, before));
    }
    if let Some(signal) = verifier {
        swept.push((AUTOMIX_P_VERIFIER, pomdp_policies(vec![signal])?));
        let thresholds = candidate_thresholds(labelled.iter().filter_map(|r| signal.value(&r.signals)));
        swept.push((AUTOMIX_T, thresholds.into_iter().map(|threshold| RoutingPolicy::Threshold(ThresholdRouter { signal, threshold })).collect()));
    }
    let scorer = LogisticScorer::fit(labelled, &options.scorer_features, 1.0);
    let thresholds = candidate_thresholds(labelled.iter().map(|r| scorer.probability(&r.signals)));
    swept.push((
        LEARNED_SCORER,
        thresholds.into_iter().map(|threshold| RoutingPolicy::LearnedScorer(ScoreRouter { scorer: scorer.clone(), threshold })).collect(),
    ));
    let train_queries: Vec<RoutedQuery> = train.iter().map(|u| u.query.clone()).collect();
    let mut curves: Vec<Curve> = swept.iter().map(|(name, policies)| sweep(name, policies, test, costs)).collect();
    let matched =
        swept.iter().map(|(name, policies)| ((*name).to_owned(), quality_matched(policies, &train_queries, test, costs, QUALITY_TOLERANCE))).collect();
    curves.push(Curve { router: RANDOM_MIXING.to_owned(), points: random_mixing_curve(anchors, 20) });
    curves.push(Curve { router: ORACLE.to_owned(), points: oracle_curve(test, costs) });
    Ok(SeedCurves { curves, matched })
}

/// One split's test curves, and each swept router's setting at the remote model's quality.
struct SeedCurves {
    curves: Vec<Curve>,
    matched: Vec<(String, QualityMatch)>,
}

/// "At the remote model's quality" means within this much of its mean score (one point).
pub const QUALITY_TOLERANCE: f64 = 0.01;

fn remote_cost_per_call(rows: &[RoutingRow], llm_model: &str) -> Option<(f64, String)> {
    let calls: Vec<&automix_router::RemoteCall> = rows.iter().filter_map(|row| row.llm_answer(llm_model)?.call.as_ref()).collect();
    let currency = calls.first()?.currency.clone();
    Some((calls.iter().map(|call| call.cost).sum::<f64>() / calls.len() as f64, currency))
}

fn verify_token_share(rows: &[RoutingRow]) -> Option<f64> {
    let answer: u64 = rows.iter().map(|r| u64::from(r.tokens.prompt) + u64::from(r.tokens.generated)).sum();
    let verify: u64 = rows.iter().map(|r| u64::from(r.tokens.verify)).sum();
    (answer > 0).then(|| verify as f64 / answer as f64)
}

fn llm_accuracy_given_slm(usable: &[UsableRow]) -> [Option<f64>; 2] {
    [false, true].map(|slm_correct| {
        let llm: Vec<bool> = usable.iter().filter(|u| u.labelled.correct == slm_correct).map(|u| u.llm_correct).collect();
        (!llm.is_empty()).then(|| llm.iter().filter(|c| **c).count() as f64 / llm.len() as f64)
    })
}

/// AUROC on the test split of the naive-Bayes P(SLM correct | `signals`) fitted on the training rows.
/// AutoMix-P's P(SLM correct | signals) on the test rows from `prior`, with likelihoods fitted on
/// the training rows exactly as `automix calibrate` fits the app's router; with each test row's label.
fn test_posteriors(labelled: &[LabelledSignals], signals: &[Signal], test: &[RoutedQuery], prior: f64, options: &EvalOptions) -> Option<(Vec<f64>, Vec<bool>)> {
    let calibration_options =
        CalibrationOptions { signals: signals.to_vec(), bins_per_signal: options.bins_per_signal, combine: options.combine, ..CalibrationOptions::default() };
    let calibration = fit_calibration(labelled, &calibration_options).ok()?;
    let model = ObservationModel::from_calibration(&calibration, &options.smoothing);
    Some(test.iter().map(|q| (model.posterior(prior, &q.signals), q.slm_score >= automix_qa::CORRECT_THRESHOLD)).unzip())
}

/// Folds for choosing AutoMix-P's signals on a training split.
const SELECTION_FOLDS: usize = 5;

/// AutoMix-P's signals for one training split: all allowed ones, or those chosen by cross-validation.
fn pomdp_signals(labelled: &[LabelledSignals], options: &EvalOptions) -> Vec<Signal> {
    // A combination weighs its signals itself (regularised), as the app's calibration does.
    if options.combine {
        return options.pomdp_signals.iter().copied().filter(|s| labelled.iter().any(|r| s.value(&r.signals).is_some())).collect();
    }
    if !options.select_signals {
        return options.pomdp_signals.clone();
    }
    let settings = SelectionSettings { bins_per_signal: options.bins_per_signal, smoothing: options.smoothing, folds: SELECTION_FOLDS };
    select_signals(labelled, &options.pomdp_signals, &settings)
}

/// Every distinct training value, plus one above all (route everything); "route iff below".
fn candidate_thresholds(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut thresholds: Vec<f64> = values.collect();
    thresholds.sort_by(f64::total_cmp);
    thresholds.dedup();
    thresholds.push(f64::INFINITY);
    thresholds
}

fn sweep(name: &str, policies: &[RoutingPolicy], test: &[RoutedQuery], costs: &CostModel) -> Curve {
    Curve { router: name.to_owned(), points: policies.iter().map(|p| policy_point(p, test, costs)).collect() }
}

/// AutoMix-P fitted on the training rows: P(signals | SLM correct) from histograms, the SLM/LLM
/// joint prior from the training outcomes around an independent prior.
fn fit_pomdp(train: &[&UsableRow], labelled: &[LabelledSignals], signals: Vec<Signal>, costs: &CostModel, options: &EvalOptions) -> Result<Pomdp, EvalError> {
    pomdp_on(train, fit_observations(labelled, signals, options)?, costs, options)
}

/// AutoMix-P on `observations` (an observation model and its calibration's rate of right
/// answers), with the local/remote joint prior refined on the training rows.
fn pomdp_on(train: &[&UsableRow], observations: (ObservationModel, f64), costs: &CostModel, options: &EvalOptions) -> Result<Pomdp, EvalError> {
    let n = train.len() as f64;
    let llm_accuracy = train.iter().filter(|u| u.llm_correct).count() as f64 / n;
    let outcomes: Vec<Vec<bool>> = train.iter().map(|u| vec![u.labelled.correct, u.llm_correct]).collect();
    let prior = JointPrior::independent(&[observations.1, llm_accuracy])?.refine(&outcomes, PRIOR_PSEUDO_ROWS);
    Ok(Pomdp::new(two_models(costs, options), vec![observations.0], prior)?)
}

/// The calibration's observation model fitted on `labelled`, and its rate of right answers.
pub(crate) fn fit_observations(labelled: &[LabelledSignals], signals: Vec<Signal>, options: &EvalOptions) -> Result<(ObservationModel, f64), EvalError> {
    let calibration = fit_calibration(
        labelled,
        &CalibrationOptions { signals, bins_per_signal: options.bins_per_signal, combine: options.combine, ..CalibrationOptions::default() },
    )?;
    Ok((ObservationModel::from_calibration(&calibration, &options.smoothing), calibration.slm_accuracy()))
}

/// What routing needs to know of `row`, against the remote answer `llm`.
pub(crate) fn routed_query(row: &RoutingRow, llm: &automix_router::ScoredAnswer) -> RoutedQuery {
    RoutedQuery { signals: row.signals_with_question(), slm_score: row.slm.score, llm_score: llm.score, local_ms: row.slm.latency_ms.map(|ms| ms as f64) }
}

/// AutoMix-P on `observations` from independent local and remote accuracies (no training rows).
pub(crate) fn independent_pomdp(
    observations: &ObservationModel,
    local: f64,
    remote: f64,
    costs: &CostModel,
    options: &EvalOptions,
) -> Result<Pomdp, automix_router::PomdpError> {
    Pomdp::new(two_models(costs, options), vec![observations.clone()], JointPrior::independent(&[local, remote])?)
}

pub(crate) fn two_models(costs: &CostModel, options: &EvalOptions) -> Vec<ModelSpec> {
    vec![
        ModelSpec { name: "slm".to_owned(), call_cost: costs.slm_cost, verify_cost: costs.verify_cost },
        ModelSpec { name: options.llm_model.clone(), call_cost: costs.llm_cost, verify_cost: 0.0 },
    ]
}

/// Bins of the question-only P(local right) for deciding before answering.
const PRE_ANSWER_BINS: usize = 5;

/// AutoMix-P deciding before answering, over the same λ sweep as the cascade: the pre-answer
/// model on the training rows (and the pool), each bin's cascade from that bin's prior.
fn pre_answer_sweep(
    train: &[&UsableRow],
    labelled: &[LabelledSignals],
    signals: Vec<Signal>,
    lambdas: &[f64],
    costs: &CostModel,
    options: &EvalOptions,
) -> Result<Vec<RoutingPolicy>, EvalError> {
    let judged: Vec<(&automix_router::SignalValues, bool)> = train.iter().map(|u| (&u.query.signals, u.llm_correct)).collect();
    let Some(model) = PreAnswerModel::fit(labelled, &judged, PRE_ANSWER_BINS) else { return Ok(Vec::new()) };
    let (observations, _) = fit_observations(labelled, signals, options)?;
    let cascade = |local: f64, remote: f64| independent_pomdp(&observations, local, remote, costs, options);
    lambdas.iter().map(|&lambda| Ok(RoutingPolicy::PreAnswer(PreAnswerPolicy::solve(&model, &cascade, lambda, costs.llm_cost)?))).collect()
}

/// The λ settings of a sweep; quadratic spacing because small gains per unit cost matter most
/// when the LLM is expensive.
pub(crate) fn lambdas(pomdp: &Pomdp) -> Vec<f64> {
    let ceiling = pomdp.lambda_ceiling();
    (0..=LAMBDA_STEPS).map(|k| ceiling * (k as f64 / LAMBDA_STEPS as f64).powi(2)).collect()
}

/// Policies over the λ sweep.
fn lambda_sweep(pomdp: &Pomdp) -> Vec<RoutingPolicy> {
    lambdas(pomdp).into_iter().map(|lambda| RoutingPolicy::Pomdp(pomdp.solve(lambda).policy)).collect()
}

/// Escalation targets checked against what the chosen λ does on the test split.
pub const BUDGET_TARGETS: [f64; 3] = [0.1, 0.3, 0.5];

/// λ chosen on the training fit for a target escalation fraction, and what it did on the test split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetCheck {
    /// Target share of queries escalated.
    pub target: f64,
    /// Share the fitted model expects (mean over seeds).
    pub predicted: f64,
    /// Share escalated on the test split (mean over seeds).
    pub realized: f64,
}

fn budget_checks(pomdp: &Pomdp, test: &[RoutedQuery]) -> Result<Vec<BudgetCheck>, EvalError> {
    BUDGET_TARGETS
        .iter()
        .map(|&target| {
            let solution = pomdp.solve_for_target(CostTarget::EscalationFraction(target))?;
            let routed = test.iter().filter(|q| solution.policy.decide_first(&q.signals) != Action::Keep).count();
            Ok(BudgetCheck { target, predicted: solution.escalation_rate, realized: routed as f64 / test.len().max(1) as f64 })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use automix_router::{ScoredAnswer, SignalValues, TokenCounts};

    use super::*;
    use crate::curves::CurvePoint;

    fn row(id: usize, slm: f64, llm: &[(&str, f64)]) -> RoutingRow {
        RoutingRow {
            id: id.to_string(),
            dataset: "t".into(),
            question: "q".into(),
            slm: ScoredAnswer { model: "small".into(), answer: "a".into(), score: slm, ..Default::default() },
            signals: SignalValues { v_logit: Some(slm), ..Default::default() },
            tokens: TokenCounts::default(),
            llm: llm.iter().map(|(model, score)| ScoredAnswer { model: (*model).into(), answer: "b".into(), score: *score, ..Default::default() }).collect(),
        }
    }

    fn table(rows: Vec<RoutingRow>) -> NamedTable {
        NamedTable { name: "t".into(), rows }
    }

    #[test]
    fn rows_without_the_chosen_remote_model_are_left_out_and_too_few_name_what_was_seen() {
        let options = EvalOptions { llm_model: "gpt-4".into(), ..Default::default() };
        let rows = (0..6).map(|i| row(i, 1.0, if i < 4 { &[("gpt-4-32k", 1.0)] } else { &[("llama", 1.0)] })).collect();
        let usable = usable_rows(&table(rows), &options).unwrap();
        assert_eq!(usable.rows.len(), 4, "the two llama-only rows have no gpt-4 answer");
        assert_eq!(usable.llm_models, vec!["gpt-4-32k".to_owned()]);
        assert!(usable.remote_answers);

        let few = (0..3).map(|i| row(i, 1.0, &[("llama", 1.0)])).collect();
        match usable_rows(&table(few), &options) {
            Err(EvalError::TooFewRows { usable, seen, .. }) => assert_eq!((usable, seen.as_str()), (0, "llama")),
            other => panic!("expected TooFewRows, got {:?}", other.map(|u| u.rows.len())),
        }
    }

    #[test]
    fn a_table_without_remote_answers_is_all_usable_against_an_always_wrong_remote() {
        let usable = usable_rows(&table((0..5).map(|i| row(i, 0.0, &[])).collect()), &EvalOptions::default()).unwrap();
        assert_eq!(usable.rows.len(), 5);
        assert!(!usable.remote_answers && usable.llm_models.is_empty());
        assert!(usable.rows.iter().all(|u| u.query.llm_score == 0.0 && !u.llm_correct));
    }

    #[test]
    fn a_split_covers_every_row_once_keeps_both_sides_and_depends_only_on_the_seed() {
        for (len, fraction) in [(10, 0.5), (2, 0.99), (2, 0.01), (7, 0.3)] {
            let (train, test) = split(len, 3, fraction);
            assert!(!train.is_empty() && !test.is_empty(), "{len} rows at {fraction}");
            let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..len).collect::<Vec<_>>());
        }
        assert_eq!(split(10, 3, 0.5), split(10, 3, 0.5));
        assert_ne!(split(50, 3, 0.5), split(50, 4, 0.5));
        assert_eq!(split(10, 1, 0.7).0.len(), 7);
    }

    #[test]
    fn seed_totals_count_signals_average_budgets_and_skip_curves_without_a_baseline() {
        let mut totals = SeedTotals::new();
        totals.count_selected(&[Signal::VLogit, Signal::Grounded]);
        totals.count_selected(&[Signal::VLogit]);
        assert_eq!(totals.selected, vec![(Signal::VLogit, 2), (Signal::Grounded, 1)]);

        let checks: Vec<BudgetCheck> = BUDGET_TARGETS.iter().map(|&target| BudgetCheck { target, predicted: 0.2, realized: 0.4 }).collect();
        totals.add_budget(&checks, 2);
        totals.add_budget(&checks, 2);
        assert!(totals.budget.iter().all(|c| (c.predicted - 0.2).abs() < 1e-12 && (c.realized - 0.4).abs() < 1e-12));

        let point = |cost, performance| CurvePoint { cost, performance };
        let curve = Curve { router: "r".into(), points: vec![point(1.0, 0.5), point(50.0, 0.8), point(100.0, 0.9)] };
        let flat = Anchors { slm: point(1.0, 0.9), llm: point(100.0, 0.5) };
        totals.add_curves(std::slice::from_ref(&curve), &flat, 1);
        assert!(totals.per_router.is_empty(), "a remote model no better than the local one has no ΔIBC");
        let rising = Anchors { slm: point(1.0, 0.5), llm: point(100.0, 0.9) };
        totals.add_curves(std::slice::from_ref(&curve), &rising, 1);
        totals.add_curves(std::slice::from_ref(&curve), &rising, 1);
        assert_eq!(totals.per_router.len(), 1);
        assert_eq!(totals.per_router[0].1.len(), 2, "one ΔIBC per seed");
        assert!(totals.per_router[0].1[0] > 0.0, "a curve above the baseline line gains");
    }

    #[test]
    fn the_summary_of_seeds_is_their_mean_and_sample_deviation() {
        let summary = summarise("r".into(), vec![1.0, 3.0]);
        assert_eq!((summary.mean, summary.std), (2.0, 2f64.sqrt()));
        assert_eq!(summarise("r".into(), vec![5.0]).std, 0.0);
    }
}
