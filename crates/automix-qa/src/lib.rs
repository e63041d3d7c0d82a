//! Questions with gold answers: reading QA items and recorded answers (JSON Lines, gzipped or
//! not), and scoring an answer against the gold ones.

pub mod items;
pub mod jsonl;
pub mod score;

pub use items::{parse_items, read_items, read_recorded_answers, QaItem, RecordedAnswer};
pub use jsonl::{open_lines, read_jsonl, JsonLinesError};
pub use score::{agrees_with, answer_score, choice_accuracy, contains_answer, exact_match, normalize_answer, parse_choice, token_f1, CORRECT_THRESHOLD};
