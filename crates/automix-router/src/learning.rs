//! What use teaches the router: the local model's rate of right answers moves from the
//! calibration's towards the rate shown by answers judged in use (the user's 👍/👎, or agreement
//! with the remote answer they were escalated to). The calibration's histograms, which say which
//! answers are the right ones, stay as fitted. The app (`automix::assistant`) and the replayed
//! stream of the evaluation use this one rule.

/// At most this many answers judged in use move the prior, so a run of unusual questions cannot
/// overturn what the calibration rows established.
pub const MAX_LEARNED_ANSWERS: usize = 200;

/// The calibration's accuracy counts as this many judged answers at most: how often the local
/// model is right depends on the user's documents and questions (SmolLM2 is right on half of
/// SQuAD v1.1 and a quarter of SQuAD v2.0), so after a few dozen judged answers their rate leads.
pub const CALIBRATION_PRIOR_WEIGHT: usize = 50;

/// Judged answers that count: (how many, how many right) of the most recent
/// [`MAX_LEARNED_ANSWERS`] of `local_correct` (oldest first).
pub fn recent_judgements(local_correct: &[bool]) -> (usize, usize) {
    let recent = &local_correct[local_correct.len().saturating_sub(MAX_LEARNED_ANSWERS)..];
    (recent.len(), recent.iter().filter(|&&c| c).count())
}

/// The local model's prior accuracy: the calibration's (`calibrated`, fitted on `calibration_rows`
/// rows, weighing at most [`CALIBRATION_PRIOR_WEIGHT`]) moved by `(judged, correct)`.
pub fn learned_accuracy(calibrated: f64, calibration_rows: usize, (judged, correct): (usize, usize)) -> f64 {
    let weight = calibration_rows.min(CALIBRATION_PRIOR_WEIGHT) as f64;
    (calibrated * weight + correct as f64) / (weight + judged as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibration_weighs_fifty_answers_and_only_the_last_two_hundred_count() {
        assert_eq!(learned_accuracy(0.4, 1000, (0, 0)), 0.4);
        assert!((learned_accuracy(0.4, 1000, (50, 50)) - 0.7).abs() < 1e-12);
        assert!((learned_accuracy(0.4, 10, (10, 10)) - 0.7).abs() < 1e-12, "a small calibration weighs its rows");
        let mut stream = vec![true; 300];
        stream.extend([false; 200]);
        assert_eq!(recent_judgements(&stream), (200, 0));
    }
}
