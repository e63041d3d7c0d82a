//! Choosing which signals the observation model uses, by cross-validation on labelled rows.
//!
//! With a weak small model most signals are barely informative, and a naive-Bayes product of
//! noise hurts the routing order; greedy forward selection keeps only the signals that improve
//! the held-out log-loss of P(correct | signals).

use crate::calibration::{fit_calibration, CalibrationOptions};
use crate::pomdp::ObservationModel;
use crate::signals::{LabelledSignals, Signal};
use crate::smoothing::Smoothing;

/// Posteriors are clamped away from 0 and 1 so one surprising row cannot dominate the loss.
const PROBABILITY_FLOOR: f64 = 1e-4;
/// A signal must lower the mean held-out log-loss by at least this to be added.
const MIN_IMPROVEMENT: f64 = 1e-3;

/// Settings shared by the fit and the selection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectionSettings {
    /// Quantile bins per continuous signal.
    pub bins_per_signal: usize,
    /// Histogram smoothing.
    pub smoothing: Smoothing,
    /// Cross-validation folds (row i goes to fold i mod folds; shuffle the rows first).
    pub folds: usize,
}

/// Mean held-out log-loss of the naive-Bayes posterior P(correct | `signals`).
pub fn cross_validated_log_loss(rows: &[LabelledSignals], signals: &[Signal], settings: &SelectionSettings) -> f64 {
    let folds = settings.folds.clamp(2, rows.len().max(2));
    let mut total = 0.0;
    for fold in 0..folds {
        let held_out = rows.iter().enumerate().filter(|(i, _)| i % folds == fold).map(|(_, r)| r);
        let fitted: Vec<LabelledSignals> = rows.iter().enumerate().filter(|(i, _)| i % folds != fold).map(|(_, r)| r.clone()).collect();
        let correct = fitted.iter().filter(|r| r.correct).count() as f64;
        let prior = (correct + 1.0) / (fitted.len() as f64 + 2.0);
        let options =
            CalibrationOptions { signals: signals.to_vec(), bins_per_signal: settings.bins_per_signal, combine: false, ..CalibrationOptions::default() };
        let model = fit_calibration(&fitted, &options).ok().map(|c| ObservationModel::from_calibration(&c, &settings.smoothing));
        for row in held_out {
            let [incorrect, correct] = model.as_ref().map_or([1.0, 1.0], |m| m.likelihoods(&row.signals));
            let joint_correct = prior * correct;
            let evidence = joint_correct + (1.0 - prior) * incorrect;
            let posterior = if evidence > 0.0 { joint_correct / evidence } else { prior };
            let p = posterior.clamp(PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR);
            total -= if row.correct { p.ln() } else { (1.0 - p).ln() };
        }
    }
    total / rows.len().max(1) as f64
}

/// Greedy forward selection over `candidates` by [`cross_validated_log_loss`]; returns at least
/// the single best candidate (if any) even when none beats the prior alone. With fewer rows of
/// either class than folds, it returns the first candidate present.
pub fn select_signals(rows: &[LabelledSignals], candidates: &[Signal], settings: &SelectionSettings) -> Vec<Signal> {
    let present: Vec<Signal> = candidates.iter().copied().filter(|s| rows.iter().any(|r| s.value(&r.signals).is_some())).collect();
    let correct = rows.iter().filter(|r| r.correct).count();
    if correct.min(rows.len() - correct) < settings.folds.max(2) {
        // Too few rows of one class to validate anything (a very weak small model): keep the
        // first candidate, by convention the verifier.
        return present.into_iter().take(1).collect();
    }
    let mut selected: Vec<Signal> = Vec::new();
    let mut best_loss = cross_validated_log_loss(rows, &selected, settings);
    loop {
        let scored = present.iter().filter(|s| !selected.contains(s)).map(|&s| {
            let mut trial = selected.clone();
            trial.push(s);
            (s, cross_validated_log_loss(rows, &trial, settings))
        });
        let Some((signal, loss)) = scored.min_by(|a, b| a.1.total_cmp(&b.1)) else { break };
        if selected.is_empty() || loss < best_loss - MIN_IMPROVEMENT {
            let improved = loss < best_loss - MIN_IMPROVEMENT;
            selected.push(signal);
            best_loss = best_loss.min(loss);
            if !improved {
                break; // kept only so the model has something to observe
            }
        } else {
            break;
        }
    }
    selected
}
