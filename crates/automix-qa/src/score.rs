//! Scoring an answer against gold answers: SQuAD-normalised token F1 and exact match, whether a
//! sentence contains a short gold answer, and multiple-choice accuracy.

use std::collections::HashMap;

/// Scores at or above this count as correct.
pub const CORRECT_THRESHOLD: f64 = 0.5;

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

/// Whether a local answer agrees with the remote answer it was escalated to, scored as answers
/// are scored against gold ones ([`answer_score`] ≥ [`CORRECT_THRESHOLD`]) in either direction: a
/// local sentence that contains the remote model's short answer agrees, as does a short local
/// answer the remote sentence contains. How use judges a local answer nobody rated.
pub fn agrees_with(local_answer: &str, remote_answer: &str) -> bool {
    answer_score(local_answer, &[remote_answer.to_string()]) >= CORRECT_THRESHOLD
        || answer_score(remote_answer, &[local_answer.to_string()]) >= CORRECT_THRESHOLD
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_reads_a_short_answer_inside_a_sentence_either_way() {
        assert!(agrees_with("The workshop was founded by Ingrid Halvorsen in 1987.", "Ingrid Halvorsen"));
        assert!(agrees_with("Halvorsen", "It was founded by Ingrid Halvorsen."));
        assert!(!agrees_with("The workshop was founded by Tobias Lindqvist.", "Ingrid Halvorsen"));
        // Token F1 alone said no: the sentence has many more words than the short answer.
        assert!(token_f1("The workshop was founded by Ingrid Halvorsen in 1987.", &["Ingrid Halvorsen".into()]) < CORRECT_THRESHOLD);
    }

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
