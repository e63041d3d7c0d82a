//! Answer scoring (SQuAD-normalised F1 and exact match, multiple-choice accuracy) and signal
//! quality against correctness (AUROC, expected calibration error).

use std::collections::HashMap;

/// SQuAD normalisation: lower-case, drop ASCII punctuation, drop a/an/the, collapse whitespace.
pub fn normalize_answer(text: &str) -> String {
    let lowered: String = text.to_lowercase().chars().filter(|c| !c.is_ascii_punctuation()).collect();
    lowered.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// Exact match after normalisation against any gold answer; no gold answers = unanswerable, so an
/// empty prediction matches.
pub fn exact_match(prediction: &str, gold_answers: &[String]) -> f64 {
    let predicted = normalize_answer(prediction);
    if gold_answers.is_empty() {
        return f64::from(u8::from(predicted.is_empty()));
    }
    let hit = gold_answers.iter().any(|g| normalize_answer(g) == predicted);
    f64::from(u8::from(hit))
}

/// Maximum token F1 over the gold answers (SQuAD); no gold answers scores like [`exact_match`].
pub fn token_f1(prediction: &str, gold_answers: &[String]) -> f64 {
    if gold_answers.is_empty() {
        return exact_match(prediction, gold_answers);
    }
    let predicted = normalize_answer(prediction);
    let predicted_tokens: Vec<&str> = predicted.split_whitespace().collect();
    gold_answers
        .iter()
        .map(|gold| {
            let gold = normalize_answer(gold);
            pair_f1(&predicted_tokens, &gold.split_whitespace().collect::<Vec<_>>())
        })
        .fold(0.0, f64::max)
}

/// Whether a gold answer occurs, as whole normalised words, in the prediction: a sentence answer
/// ("Paris is the capital of France.") is right when it contains the short gold answer ("Paris").
pub fn contains_answer(prediction: &str, gold_answers: &[String]) -> bool {
    let predicted = format!(" {} ", normalize_answer(prediction));
    gold_answers.iter().map(|gold| normalize_answer(gold)).any(|gold| !gold.is_empty() && predicted.contains(&format!(" {gold} ")))
}

/// Score of a free-text answer: 1 when it contains a gold answer, else its token F1, so a
/// partly right answer keeps a fractional (soft) label.
pub fn answer_score(prediction: &str, gold_answers: &[String]) -> f64 {
    if contains_answer(prediction, gold_answers) {
        1.0
    } else {
        token_f1(prediction, gold_answers)
    }
}

fn pair_f1(predicted: &[&str], gold: &[&str]) -> f64 {
    if predicted.is_empty() || gold.is_empty() {
        return f64::from(u8::from(predicted == gold));
    }
    let mut gold_counts: HashMap<&str, usize> = HashMap::new();
    for token in gold {
        *gold_counts.entry(token).or_default() += 1;
    }
    let mut common = 0usize;
    for token in predicted {
        if let Some(count) = gold_counts.get_mut(token).filter(|c| **c > 0) {
            *count -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / predicted.len() as f64;
    let recall = common as f64 / gold.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// The choice a free-text answer picks: a leading letter ("B", "(B)", "B. text"), a choice's
/// normalised text, or in a sentence the one letter written as "B)" or the one choice named
/// ("Yes, it does." picks "yes").
pub fn parse_choice(prediction: &str, choices: &[String]) -> Option<usize> {
    let trimmed = prediction.trim().trim_start_matches(['(', '[']);
    let mut chars = trimmed.chars();
    if let Some(letter) = chars.next().filter(char::is_ascii_uppercase) {
        let next = chars.next();
        if next.is_none_or(|c| !c.is_alphanumeric()) {
            let index = usize::from(letter as u8 - b'A');
            if index < choices.len() {
                return Some(index);
            }
        }
    }
    let predicted = normalize_answer(prediction);
    if let Some(exact) = choices.iter().position(|c| normalize_answer(c) == predicted) {
        return Some(exact);
    }
    let only = |found: Vec<usize>| if found.len() == 1 { Some(found[0]) } else { None };
    let lettered: Vec<usize> = (0..choices.len().min(26)).filter(|&i| prediction.contains(&format!("{})", char::from(b'A' + i as u8)))).collect();
    only(lettered).or_else(|| only((0..choices.len()).filter(|&i| contains_answer(prediction, std::slice::from_ref(&choices[i]))).collect()))
}

/// 1 when the prediction picks the gold choice, else 0.
pub fn choice_accuracy(prediction: &str, choices: &[String], gold_index: usize) -> f64 {
    f64::from(u8::from(parse_choice(prediction, choices) == Some(gold_index)))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sentence_contains_the_gold_answer_only_as_whole_words() {
        let gold = vec!["lute".to_string()];
        assert!(contains_answer("He played the lute.", &gold));
        assert!(!contains_answer("Luther used hymns.", &gold), "a word that merely starts with the answer does not count");
        assert_eq!(answer_score("The capital is Paris.", &["Paris".into()]), 1.0);
        let partial = answer_score("San Joaquin", &["San Joaquin Valley Railroad".into()]);
        assert!(partial > 0.0 && partial < 1.0, "a partial answer keeps a soft label: {partial}");
    }

    #[test]
    fn a_sentence_picks_the_one_choice_it_names() {
        let yes_no = vec!["yes".to_string(), "no".to_string()];
        assert_eq!(parse_choice("Yes, ethanol does.", &yes_no), Some(0));
        assert_eq!(parse_choice("No.", &yes_no), Some(1));
        assert_eq!(parse_choice("Yes and no.", &yes_no), None, "naming both picks neither");
        let options = vec!["red".to_string(), "blue".to_string(), "green".to_string()];
        assert_eq!(parse_choice("The answer is B) blue.", &options), Some(1));
    }
}
