//! Cheap checks of an answer's text against its question and context: signals that carry
//! information even when the model is too small to judge itself.

use automix_qa::normalize_answer;

/// Words that say nothing about an answer's content.
const STOPWORDS: &[&str] = &[
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "being",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "by",
    "with",
    "from",
    "and",
    "or",
    "but",
    "it",
    "its",
    "this",
    "that",
    "these",
    "those",
    "as",
    "which",
    "who",
    "whom",
    "whose",
    "what",
    "when",
    "where",
    "why",
    "how",
    "he",
    "she",
    "they",
    "them",
    "his",
    "her",
    "their",
    "i",
    "you",
    "we",
    "answer",
    "context",
    "text",
    "question",
    "there",
    "has",
    "have",
    "had",
    "did",
    "does",
    "do",
    "not",
    "no",
    "yes",
    "so",
    "also",
    "than",
    "then",
    "into",
    "about",
    "according",
    "states",
    "says",
];

/// Phrases with which an answer declines: "the context does not mention…".
const REFUSALS: &[&str] = &[
    "does not contain",
    "does not provide",
    "does not mention",
    "does not say",
    "does not specify",
    "does not state",
    "does not include",
    "does not give",
    "doesnt",
    "do not know",
    "dont know",
    "not provided",
    "not mentioned",
    "not stated",
    "not specified",
    "not given",
    "not available",
    "not clear",
    "no information",
    "no mention",
    "cannot be determined",
    "cannot determine",
    "cannot answer",
    "cant",
    "unable to",
    "not possible to",
    "not enough information",
];

/// The answer's content words: normalised, without stopwords and without the words it repeats
/// from the question (a sentence answer restates the question; what it adds is the answer).
fn key_words(answer: &str, question: &str) -> Vec<String> {
    let question = normalize_answer(question);
    let asked: Vec<&str> = question.split_whitespace().collect();
    normalize_answer(answer).split_whitespace().filter(|word| !STOPWORDS.contains(word) && !asked.contains(word)).map(str::to_string).collect()
}

/// Which of the answer's tokens (given as their text pieces) belong to its own words rather than
/// to a restatement of the question or to filler: the tokens whose letters lie inside a key word.
/// A short filler token whose letters also occur inside a key word (" is" in "Paris") counts too:
/// the bundled calibration was fitted with this rule, so it stays until the tables are collected again.
pub fn key_token_mask(pieces: &[String], answer: &str, question: &str) -> Vec<bool> {
    let keys = key_words(answer, question);
    pieces
        .iter()
        .map(|piece| {
            let letters: String = piece.to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect();
            !letters.is_empty() && keys.iter().any(|key| key.contains(&letters) && (letters.len() > 1 || key.len() == 1))
        })
        .collect()
}

/// Whether the answer's own words all occur in the context: the key span of a sentence answer is
/// grounded even when the sentence around it is not a quote. An answer that adds no word of its
/// own is not grounded.
pub fn answer_is_grounded(answer: &str, question: &str, context: &str) -> bool {
    let keys = key_words(answer, question);
    let context = format!(" {} ", normalize_answer(context));
    !keys.is_empty() && keys.iter().all(|word| context.contains(&format!(" {word} ")))
}

/// Whether the answer declines to answer ("the context does not say").
pub fn is_refusal(answer: &str) -> bool {
    let normalized = format!(" {} ", normalize_answer(answer));
    REFUSALS.iter().any(|phrase| normalized.contains(&format!(" {phrase} ")))
}

/// The form of answer a question asks for, where one can be checked from the wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Time,
    Quantity,
    Name,
    YesNo,
}

const MONTHS: &[&str] = &["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];
const TIME_WORDS: &[&str] = &["century", "centuries", "decade", "year", "years", "ago", "bc", "bce", "ad", "ce", "today", "morning", "evening"];
const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "twenty", "thirty", "forty", "fifty", "hundred",
    "thousand", "million", "billion", "dozen", "several", "many", "few", "half",
];
const YES_NO_OPENERS: &[&str] =
    &["is", "are", "was", "were", "do", "does", "did", "can", "could", "has", "have", "had", "will", "would", "should", "may", "must"];

fn expected_form(question: &str) -> Option<Expected> {
    let q = normalize_answer(question);
    let words: Vec<&str> = q.split_whitespace().collect();
    let has = |phrase: &str| format!(" {q} ").contains(&format!(" {phrase} "));
    if has("when") || has("what year") || has("which year") || has("what date") || has("what century") || has("how long ago") {
        Some(Expected::Time)
    } else if has("how many") || has("how much") || has("how long") || has("how old") || has("what percentage") || has("how far") {
        Some(Expected::Quantity)
    } else if has("who") || has("whom") || has("whose") || has("where") {
        Some(Expected::Name)
    } else if words.first().is_some_and(|w| YES_NO_OPENERS.contains(w)) {
        Some(Expected::YesNo)
    } else {
        None
    }
}

/// Whether the answer has the form the question asks for: a date or period for "when", a number
/// for "how many", a name (a capitalised word not taken from the question) for "who"/"where",
/// yes or no for a yes/no question. `None` when the question asks for none of these.
pub fn answer_matches_question_type(question: &str, answer: &str) -> Option<bool> {
    let expected = expected_form(question)?;
    let normalized = normalize_answer(answer);
    let words: Vec<&str> = normalized.split_whitespace().collect();
    let has_digits = answer.chars().any(|c| c.is_ascii_digit());
    Some(match expected {
        Expected::Time => has_digits || words.iter().any(|w| MONTHS.contains(w) || TIME_WORDS.contains(w)),
        Expected::Quantity => has_digits || words.iter().any(|w| NUMBER_WORDS.contains(w)),
        Expected::Name => {
            let asked = question.to_lowercase();
            answer
                .split(|c: char| !c.is_alphanumeric())
                .skip(1)
                .any(|word| word.chars().next().is_some_and(char::is_uppercase) && !asked.contains(&word.to_lowercase()))
        }
        Expected::YesNo => words.first().is_some_and(|w| matches!(*w, "yes" | "no")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTEXT: &str = "France is a country in Western Europe. Its capital and largest city is Paris, on the Seine.";

    #[test]
    fn a_sentence_answer_is_grounded_by_its_key_words() {
        let question = "What is the capital of France?";
        assert!(answer_is_grounded("The capital of France is Paris.", question, CONTEXT));
        assert!(answer_is_grounded("Paris", question, CONTEXT));
        assert!(!answer_is_grounded("The capital of France is Lyon.", question, CONTEXT));
        assert!(!answer_is_grounded("The capital of France.", question, CONTEXT), "repeating the question adds nothing");
    }

    #[test]
    fn key_tokens_are_those_of_the_answers_own_words() {
        let pieces: Vec<String> = ["The", " capital", " of", " France", " was", " Par", "is", "."].map(String::from).to_vec();
        let mask = key_token_mask(&pieces, "The capital of France was Paris.", "What is the capital of France?");
        assert_eq!(mask, [false, false, false, false, false, true, true, false]);
    }

    #[test]
    fn refusals_are_recognised_and_answers_are_not() {
        assert!(is_refusal("The context does not provide any information about the capital."));
        assert!(is_refusal("The answer is not mentioned in the text."));
        assert!(is_refusal("I don't know."));
        assert!(!is_refusal("The capital of France is Paris."));
        assert!(!is_refusal("Notably, Paris is not small."), "a negation that is not a refusal");
    }

    #[test]
    fn the_answer_form_is_checked_against_the_question() {
        assert_eq!(answer_matches_question_type("When did Tesla go back to Smiljan?", "He went back in 1873."), Some(true));
        assert_eq!(answer_matches_question_type("When did Tesla go back to Smiljan?", "He went back to see his family."), Some(false));
        assert_eq!(answer_matches_question_type("In what year was it built?", "In March of that year."), Some(true));
        assert_eq!(answer_matches_question_type("How many stations are owned?", "Eight stations."), Some(true));
        assert_eq!(answer_matches_question_type("How many stations are owned?", "Most of them."), Some(false));
        assert_eq!(answer_matches_question_type("Who designed the bridge?", "The bridge was designed by Joseph Strauss."), Some(true));
        assert_eq!(answer_matches_question_type("Who designed the Bridge?", "the engineers designed the Bridge."), Some(false));
        assert_eq!(answer_matches_question_type("Is Paris the capital of France?", "Yes, it is."), Some(true));
        assert_eq!(answer_matches_question_type("Is Paris the capital of France?", "Paris is a city."), Some(false));
        assert_eq!(answer_matches_question_type("Why is the sky blue?", "Because of scattering."), None);
    }
}
