//! Signal quality against correctness: AUROC, reliability bins and expected calibration error.
//! (Answer scoring lives in `automix-qa`; it is re-exported here for the evaluation's callers.)

pub use automix_qa::score::{answer_score, choice_accuracy, contains_answer, exact_match, normalize_answer, parse_choice, token_f1};

/// Area under the ROC curve of `scores` for predicting `labels` (ties count half); `None`
/// when one class is absent.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut pairs: Vec<(f64, bool)> = scores.iter().copied().zip(labels.iter().copied()).collect();
    let positives = pairs.iter().filter(|(_, l)| *l).count();
    let negatives = pairs.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Mann–Whitney: sum of positive ranks, ties sharing their average rank.
    let mut rank_sum = 0.0;
    let mut start = 0;
    while start < pairs.len() {
        let mut end = start;
        while end < pairs.len() && pairs[end].0 == pairs[start].0 {
            end += 1;
        }
        let average_rank = (start + end + 1) as f64 / 2.0;
        rank_sum += average_rank * pairs[start..end].iter().filter(|(_, l)| *l).count() as f64;
        start = end;
    }
    let positives = positives as f64;
    Some((rank_sum - positives * (positives + 1.0) / 2.0) / (positives * negatives as f64))
}

/// Predicted probabilities against outcomes in equal-width bins: per bin the sum of predictions,
/// the right answers and the count. A reliability diagram plots it; the calibration error sums it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reliability {
    /// `(sum of predictions, right answers, answers)` per bin.
    pub bins: Vec<(f64, f64, usize)>,
}

impl Reliability {
    /// Empty bins; `bins` must be at least 1.
    pub fn new(bins: usize) -> Self {
        Self { bins: vec![(0.0, 0.0, 0); bins] }
    }

    /// Counts each prediction with its outcome.
    pub fn add(&mut self, probabilities: &[f64], labels: &[bool]) {
        let count = self.bins.len();
        for (p, label) in probabilities.iter().zip(labels) {
            let bin = &mut self.bins[((p.clamp(0.0, 1.0) * count as f64) as usize).min(count - 1)];
            bin.0 += p;
            bin.1 += f64::from(u8::from(*label));
            bin.2 += 1;
        }
    }

    /// `(mean prediction, observed rate, answers)` of each non-empty bin.
    pub fn points(&self) -> Vec<(f64, f64, usize)> {
        self.bins.iter().filter(|(_, _, n)| *n > 0).map(|&(p, y, n)| (p / n as f64, y / n as f64, n)).collect()
    }

    /// Expected calibration error: Σ_b n_b/N · |mean p − mean y| = Σ_b |Σp − Σy| / N; `None`
    /// when nothing was counted.
    pub fn calibration_error(&self) -> Option<f64> {
        let total: usize = self.bins.iter().map(|(_, _, n)| n).sum();
        (total > 0).then(|| self.bins.iter().map(|(p, y, _)| (p - y).abs()).sum::<f64>() / total as f64)
    }
}

/// Expected calibration error over `bins` equal-width bins; `None` without probabilities or bins.
pub fn expected_calibration_error(probabilities: &[f64], labels: &[bool], bins: usize) -> Option<f64> {
    if bins == 0 {
        return None;
    }
    let mut reliability = Reliability::new(bins);
    reliability.add(probabilities, labels);
    reliability.calibration_error()
}
