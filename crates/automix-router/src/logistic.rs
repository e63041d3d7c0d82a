//! The FrugalGPT-like logistic-regression scorer of small-model correctness, fitted on labelled
//! signals: a baseline router's scorer and a calibration's signal combiner.

use serde::{Deserialize, Serialize};

use crate::signals::{LabelledSignals, Signal, SignalValues};

/// FrugalGPT-like scorer: logistic regression of small-model correctness on cheap features.
///
/// Features are standardised with the training mean and spread; a missing feature counts as the
/// mean, plus an indicator of its absence where training rows lacked it (an answer with no word of
/// its own has no key-word probability, and that absence says something).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticScorer {
    /// Input features.
    pub features: Vec<Signal>,
    /// Per feature, whether its absence has its own weight (the last weights, in feature order).
    #[serde(default)]
    pub missing_indicators: Vec<bool>,
    /// Training mean per feature.
    pub means: Vec<f64>,
    /// Training standard deviation per feature (1 where constant).
    pub scales: Vec<f64>,
    /// Weight per standardised feature.
    pub weights: Vec<f64>,
    /// Intercept.
    pub bias: f64,
}

impl LogisticScorer {
    /// Fits by Newton's method (IRLS) with L2 penalty `l2` on the weights.
    pub fn fit(rows: &[LabelledSignals], features: &[Signal], l2: f64) -> Self {
        let k = features.len();
        let mut means = vec![0.0; k];
        let mut scales = vec![1.0; k];
        for (f, signal) in features.iter().enumerate() {
            let values: Vec<f64> = rows.iter().filter_map(|r| signal.value(&r.signals)).collect();
            if values.is_empty() {
                continue;
            }
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
            means[f] = mean;
            scales[f] = if variance > 1e-12 { variance.sqrt() } else { 1.0 };
        }
        let missing_indicators: Vec<bool> = features
            .iter()
            .map(|signal| {
                let present = rows.iter().filter(|r| signal.value(&r.signals).is_some()).count();
                present > 0 && present < rows.len()
            })
            .collect();
        let k = k + missing_indicators.iter().filter(|m| **m).count();
        let mut scorer = Self { features: features.to_vec(), missing_indicators, means, scales, weights: vec![0.0; k], bias: 0.0 };
        let design: Vec<Vec<f64>> = rows.iter().map(|r| scorer.design_row(&r.signals)).collect();
        let labels: Vec<f64> = rows.iter().map(|r| f64::from(u8::from(r.correct))).collect();
        let dim = k + 1;
        let mut theta = vec![0.0; dim];
        for _ in 0..25 {
            let mut gradient = vec![0.0; dim];
            let mut hessian = vec![vec![0.0; dim]; dim];
            for (x, y) in design.iter().zip(&labels) {
                let p = sigmoid(dot(&theta, x));
                let w = (p * (1.0 - p)).max(1e-9);
                for a in 0..dim {
                    gradient[a] += (p - y) * x[a];
                    for b in 0..dim {
                        hessian[a][b] += w * x[a] * x[b];
                    }
                }
            }
            // The intercept (last coordinate) is not penalised.
            for a in 0..k {
                gradient[a] += l2 * theta[a];
                hessian[a][a] += l2;
            }
            hessian[k][k] += 1e-9;
            let Some(step) = solve_linear(hessian, gradient) else { break };
            let mut largest = 0.0f64;
            for (t, s) in theta.iter_mut().zip(&step) {
                *t -= s;
                largest = largest.max(s.abs());
            }
            if largest < 1e-10 {
                break;
            }
        }
        scorer.bias = theta[k];
        scorer.weights = theta[..k].to_vec();
        scorer
    }

    /// Predicted probability that the small model's answer is correct.
    pub fn probability(&self, signals: &SignalValues) -> f64 {
        let x = self.design_row(signals);
        sigmoid(dot(&self.weights, &x[..self.weights.len()]) + self.bias)
    }

    fn design_row(&self, signals: &SignalValues) -> Vec<f64> {
        let values: Vec<Option<f64>> = self.features.iter().map(|s| s.value(signals)).collect();
        let mut row: Vec<f64> = values.iter().enumerate().map(|(f, v)| v.map_or(0.0, |v| (v - self.means[f]) / self.scales[f])).collect();
        let indicators = values.iter().zip(&self.missing_indicators).filter(|(_, has)| **has).map(|(v, _)| if v.is_none() { 1.0 } else { 0.0 });
        row.extend(indicators);
        row.push(1.0);
        row
    }
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Gaussian elimination with partial pivoting; `None` when the system is singular.
fn solve_linear(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-14 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (target, source) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *target -= factor * source;
            }
            b[col + 1 + offset] -= factor * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let tail: f64 = (row + 1..n).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    Some(x)
}
