//! Answer metrics and AUROC/ECE on hand-checkable cases.

use automix_eval::metrics::parse_choice;
use automix_eval::{auroc, choice_accuracy, exact_match, expected_calibration_error, normalize_answer, token_f1};

fn gold(answers: &[&str]) -> Vec<String> {
    answers.iter().map(|a| (*a).to_owned()).collect()
}

#[test]
fn squad_normalisation() {
    assert_eq!(normalize_answer("The  Eiffel Tower!"), "eiffel tower");
    assert_eq!(normalize_answer("An apple, a day."), "apple day");
    assert_eq!(normalize_answer("Theatre"), "theatre");
}

#[test]
fn exact_match_and_f1_on_known_cases() {
    assert_eq!(exact_match("the Denver Broncos", &gold(&["Denver Broncos"])), 1.0);
    assert_eq!(exact_match("Broncos", &gold(&["Denver Broncos"])), 0.0);
    // precision 1/1, recall 1/2 → F1 2/3.
    assert!((token_f1("Broncos", &gold(&["Denver Broncos"])) - 2.0 / 3.0).abs() < 1e-12);
    // best over answers.
    assert_eq!(token_f1("Santa Clara", &gold(&["Levi's Stadium", "Santa Clara, California", "Santa Clara"])), 1.0);
    // "in 1990 and 1991" vs "1990": common 1, precision 1/4 ("in", "1990", "and", "1991"), recall 1 → 0.4.
    assert!((token_f1("in 1990 and 1991", &gold(&["1990"])) - 0.4).abs() < 1e-12);
    // repeated tokens count with multiplicity: pred "a b b", gold "b c": common 1 → P 1/3, R 1/2 → 0.4.
    assert!((token_f1("x y y", &gold(&["y z"])) - 0.4).abs() < 1e-12);
    assert_eq!(token_f1("nothing shared", &gold(&["other words"])), 0.0);
}

#[test]
fn unanswerable_questions_reward_empty_answers() {
    assert_eq!(token_f1("", &[]), 1.0);
    assert_eq!(exact_match("The.", &[]), 1.0);
    assert_eq!(token_f1("Paris", &[]), 0.0);
}

#[test]
fn choice_accuracy_reads_letters_and_texts() {
    let choices = gold(&["red", "green", "blue", "yellow"]);
    assert_eq!(choice_accuracy("B", &choices, 1), 1.0);
    assert_eq!(choice_accuracy("(C) blue", &choices, 2), 1.0);
    assert_eq!(choice_accuracy("Blue.", &choices, 2), 1.0);
    assert_eq!(choice_accuracy("A", &choices, 1), 0.0);
    assert_eq!(parse_choice("Because", &choices), None);
    assert_eq!(parse_choice("E", &choices), None);
}

#[test]
fn auroc_on_hand_cases() {
    assert_eq!(auroc(&[0.1, 0.2, 0.8, 0.9], &[false, false, true, true]), Some(1.0));
    assert_eq!(auroc(&[0.9, 0.8, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
    // Pairs (pos, neg): (0.4 vs 0.1) win, (0.4 vs 0.5) lose, (0.7 vs both) win → 3/4.
    assert_eq!(auroc(&[0.1, 0.4, 0.5, 0.7], &[false, true, false, true]), Some(0.75));
    // All tied → 0.5.
    assert_eq!(auroc(&[0.3, 0.3, 0.3], &[true, false, true]), Some(0.5));
    assert_eq!(auroc(&[0.3, 0.4], &[true, true]), None);
}

#[test]
fn calibration_error_on_hand_cases() {
    // Bin [0.2, 0.3): p 0.2 twice, one correct → |0.4 − 1| / 4; bin [0.9, 1]: 0.9 twice, both correct → |1.8 − 2| / 4.
    let ece = expected_calibration_error(&[0.2, 0.2, 0.9, 0.9], &[true, false, true, true], 10).unwrap();
    assert!((ece - (0.6 + 0.2) / 4.0).abs() < 1e-12);
    assert_eq!(expected_calibration_error(&[1.0, 0.0], &[true, false], 10), Some(0.0));
}
