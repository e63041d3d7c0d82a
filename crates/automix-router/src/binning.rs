//! Discretising one signal's values into bins (quantile edges, or a logistic combination's P(correct)).

use serde::{Deserialize, Serialize};

use crate::logistic::LogisticScorer;
use crate::signals::{Signal, SignalValues};

/// Maps one signal's value to a bin: `edges.len() + 1` value bins, then one bin for "missing".
///
/// A value `x` falls in bin `#{edges e : e <= x}`, so bins are half-open `[e_{k-1}, e_k)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalBinning {
    /// The signal this binning reads.
    pub signal: Signal,
    /// Strictly increasing bin edges.
    pub edges: Vec<f64>,
    /// For [`Signal::Combined`]: the logistic combination whose P(correct) is binned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combiner: Option<LogisticScorer>,
}

impl SignalBinning {
    /// Edges at the empirical quantiles of `values` (at most `max_bins` value bins; ties merge bins).
    pub fn from_quantiles(signal: Signal, values: &[f64], max_bins: usize) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = Vec::new();
        if sorted.len() > 1 && max_bins > 1 {
            for k in 1..max_bins {
                let position = k * sorted.len() / max_bins;
                let edge = sorted[position.min(sorted.len() - 1)];
                // An edge at the minimum would leave an empty first bin.
                if edge > sorted[0] && edges.last().is_none_or(|last| edge > *last) {
                    edges.push(edge);
                }
            }
        }
        Self { signal, edges, combiner: None }
    }

    /// Edges at explicit cut points (sorted and deduplicated here).
    pub fn with_edges(signal: Signal, mut edges: Vec<f64>) -> Self {
        edges.retain(|e| e.is_finite());
        edges.sort_by(f64::total_cmp);
        edges.dedup();
        Self { signal, edges, combiner: None }
    }

    /// Bins of `combiner`'s P(correct), with edges at the quantiles of `probabilities`.
    pub fn combined(combiner: LogisticScorer, probabilities: &[f64], max_bins: usize) -> Self {
        Self { combiner: Some(combiner), ..Self::from_quantiles(Signal::Combined, probabilities, max_bins) }
    }

    /// The value this binning reads from `values`: the signal's, or the combiner's P(correct).
    pub fn reading(&self, values: &SignalValues) -> Option<f64> {
        match &self.combiner {
            Some(combiner) => Some(combiner.probability(values)),
            None => self.signal.value(values),
        }
    }

    /// The bin of a value read by [`Self::reading`].
    pub fn bin_of(&self, reading: Option<f64>) -> usize {
        match reading.filter(|v| v.is_finite()) {
            Some(x) => self.edges.partition_point(|e| *e <= x),
            None => self.missing_bin(),
        }
    }

    /// Number of bins including the trailing "missing" bin.
    pub fn bin_count(&self) -> usize {
        self.edges.len() + 2
    }

    /// Index of the "missing value" bin.
    pub fn missing_bin(&self) -> usize {
        self.edges.len() + 1
    }

    /// The bin of `values`' reading of this signal.
    #[inline]
    pub fn bin(&self, values: &SignalValues) -> usize {
        self.bin_of(self.reading(values))
    }
}
