//! How a calibration's histogram counts become the POMDP's likelihoods: Laplace pseudo-counts, a
//! Gaussian kernel over neighbouring bins, and an isotonic (monotone) P(correct | bin).

use serde::{Deserialize, Serialize};

/// How histogram counts become likelihoods.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Smoothing {
    /// Pseudo-count added to every bin (Laplace smoothing).
    pub additive: f64,
    /// Gaussian kernel over neighbouring value bins, its width as a share of the number of value
    /// bins (0 = none). With quantile bins this approximates a kernel density estimate, giving
    /// fine bins without their noise; two-bin signals (booleans) are barely touched.
    pub kernel_width: f64,
    /// Make P(correct | bin) monotone along the value bins (isotonic regression, in whichever
    /// direction fits better), keeping each bin's total: confidence-like signals are monotone,
    /// and noise in small bins must not reorder them.
    pub monotone: bool,
}

impl Smoothing {
    /// The raw histogram.
    pub const NONE: Smoothing = Smoothing { additive: 0.0, kernel_width: 0.0, monotone: false };

    /// Smoothed `[incorrect, correct]` counts (not normalised).
    pub(crate) fn apply(&self, incorrect: &[f64], correct: &[f64]) -> [Vec<f64>; 2] {
        let mut incorrect = self.spread_over_neighbours(incorrect);
        let mut correct = self.spread_over_neighbours(correct);
        for count in incorrect.iter_mut().chain(correct.iter_mut()) {
            *count += self.additive;
        }
        if self.monotone {
            let value_bins = correct.len().saturating_sub(1);
            make_rate_monotone(&mut incorrect[..value_bins], &mut correct[..value_bins]);
        }
        [incorrect, correct]
    }

    /// Spreads each value bin's count over its neighbours, conserving the total; the trailing
    /// "missing" bin is left alone.
    fn spread_over_neighbours(&self, counts: &[f64]) -> Vec<f64> {
        let value_bins = counts.len().saturating_sub(1);
        let width = self.kernel_width * value_bins as f64;
        if width <= 0.0 || value_bins < 2 {
            return counts.to_vec();
        }
        let kernel = |distance: usize| (-0.5 * (distance as f64 / width).powi(2)).exp();
        let mut spread = vec![0.0; counts.len()];
        for (source, count) in counts[..value_bins].iter().enumerate() {
            let total: f64 = (0..value_bins).map(|b| kernel(b.abs_diff(source))).sum();
            for (target, slot) in spread[..value_bins].iter_mut().enumerate() {
                *slot += count * kernel(target.abs_diff(source)) / total;
            }
        }
        spread[value_bins] = counts[value_bins];
        spread
    }
}

/// Replaces the per-bin rate correct/(correct+incorrect) by its weighted isotonic fit (pool
/// adjacent violators), increasing or decreasing, whichever has the smaller squared error.
fn make_rate_monotone(incorrect: &mut [f64], correct: &mut [f64]) {
    let weights: Vec<f64> = incorrect.iter().zip(correct.iter()).map(|(a, b)| a + b).collect();
    let rates: Vec<f64> = weights.iter().zip(correct.iter()).map(|(w, c)| if *w > 0.0 { c / w } else { 0.0 }).collect();
    let increasing = isotonic(&rates, &weights);
    let reversed_rates: Vec<f64> = rates.iter().rev().copied().collect();
    let reversed_weights: Vec<f64> = weights.iter().rev().copied().collect();
    let decreasing: Vec<f64> = isotonic(&reversed_rates, &reversed_weights).into_iter().rev().collect();
    let error = |fit: &[f64]| -> f64 { fit.iter().zip(&rates).zip(&weights).map(|((f, r), w)| w * (f - r).powi(2)).sum() };
    let fit = if error(&increasing) <= error(&decreasing) { increasing } else { decreasing };
    for (b, rate) in fit.iter().enumerate() {
        correct[b] = weights[b] * rate;
        incorrect[b] = weights[b] * (1.0 - rate);
    }
}

/// Weighted non-decreasing least-squares fit (pool adjacent violators).
fn isotonic(values: &[f64], weights: &[f64]) -> Vec<f64> {
    // Blocks of (mean, weight, length).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(values.len());
    for (v, w) in values.iter().zip(weights) {
        blocks.push((*v, *w, 1));
        while blocks.len() >= 2 {
            let (last, before) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if before.0 <= last.0 {
                break;
            }
            let weight = before.1 + last.1;
            let mean = if weight > 0.0 { (before.0 * before.1 + last.0 * last.1) / weight } else { last.0 };
            blocks.pop();
            *blocks.last_mut().expect("two blocks were present") = (mean, weight, before.2 + last.2);
        }
    }
    blocks.iter().flat_map(|(mean, _, length)| std::iter::repeat_n(*mean, *length)).collect()
}

impl Default for Smoothing {
    fn default() -> Self {
        Self { additive: 0.5, kernel_width: 0.1, monotone: true }
    }
}
