//! Deciding before answering. A cascade always pays for the local attempt (its answer and checks)
//! before it can escalate; where the question alone says that attempt is unlikely to be kept,
//! going to the remote model at once saves the wait (arXiv 2605.06350 finds question-only routers
//! ahead of cascades on most benchmarks for this reason).
//!
//! P(local answer right) before answering comes from a logistic combination of signals known
//! before any token is generated ([`PRE_ANSWER_SIGNALS`]). Its quantile bins each get their own
//! prior; in each bin the POMDP compares escalating at once with its own cascade started from
//! that prior, and the cheaper in expected quality minus λ·cost wins.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::logistic::LogisticScorer;
use crate::pomdp::{Pomdp, PomdpError, PomdpPolicy};
use crate::signals::{LabelledSignals, Signal, SignalValues};

/// What is known before answering: the best retrieved passage's similarity, the question's length
/// and whether it asks for a fact.
pub const PRE_ANSWER_SIGNALS: [Signal; 3] = [Signal::RetrievalScore, Signal::QuestionWords, Signal::Factoid];

/// Rows' worth of the overall accuracy each bin's own rate is shrunk towards (bins are small).
const BIN_PSEUDO_ROWS: f64 = 10.0;

/// Words in `question`.
pub fn question_words(question: &str) -> f64 {
    question.split_whitespace().count() as f64
}

/// Whether `question` asks for a fact a passage states (a name, a date, a place, a number).
pub fn is_factoid(question: &str) -> bool {
    let lower = question.trim().to_lowercase();
    let first = lower.split(|c: char| !c.is_alphanumeric()).find(|w| !w.is_empty()).unwrap_or("");
    matches!(first, "who" | "whom" | "whose" | "when" | "where" | "which")
        || ["how many", "how much", "how long", "how old", "how far", "what year", "what date", "what is the name", "what was the name"]
            .iter()
            .any(|start| lower.starts_with(start))
}

/// Fills the question's own signals where they are missing (rows recorded before they existed).
pub fn fill_question_signals(values: &mut SignalValues, question: &str) {
    values.question_words.get_or_insert_with(|| question_words(question));
    values.factoid.get_or_insert_with(|| is_factoid(question));
}

/// P(local answer right) before answering, in quantile bins with each bin's local and remote
/// accuracy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreAnswerModel {
    /// The combination of [`PRE_ANSWER_SIGNALS`].
    pub scorer: LogisticScorer,
    /// Inner bin edges of the scorer's probability (ascending; `edges.len() + 1` bins).
    pub edges: Vec<f64>,
    /// P(local answer right) per bin.
    pub local_accuracy: Vec<f64>,
    /// P(remote answer right) per bin: hard questions are often hard for both.
    pub remote_accuracy: Vec<f64>,
}

impl PreAnswerModel {
    /// Fits the combination on `labelled` (local correctness) and, per quantile bin of its
    /// probability, the local rate from `labelled` and the remote rate from `judged` (rows whose
    /// remote answer was judged: signals and whether it was right), each shrunk towards its overall
    /// rate. `None` without rows of both kinds.
    pub fn fit(labelled: &[LabelledSignals], judged: &[(&SignalValues, bool)], bins: usize) -> Option<Self> {
        if labelled.is_empty() || judged.is_empty() || bins == 0 {
            return None;
        }
        let scorer = LogisticScorer::fit(labelled, &PRE_ANSWER_SIGNALS, 1.0);
        let mut probabilities: Vec<f64> = labelled.iter().map(|row| scorer.probability(&row.signals)).collect();
        probabilities.sort_by(f64::total_cmp);
        let mut edges: Vec<f64> = (1..bins).map(|k| probabilities[k * probabilities.len() / bins]).collect();
        edges.dedup();
        let mut model = PreAnswerModel { scorer, edges, local_accuracy: Vec::new(), remote_accuracy: Vec::new() };
        let rate = |outcomes: &mut dyn Iterator<Item = (usize, bool)>| {
            let mut counts = vec![(0.0, 0.0); model.edges.len() + 1];
            let (mut right, mut total) = (0.0, 0.0);
            for (bin, correct) in outcomes {
                counts[bin].0 += f64::from(u8::from(correct));
                counts[bin].1 += 1.0;
                right += f64::from(u8::from(correct));
                total += 1.0;
            }
            let overall = right / total;
            counts.into_iter().map(|(r, n)| (r + BIN_PSEUDO_ROWS * overall) / (n + BIN_PSEUDO_ROWS)).collect::<Vec<f64>>()
        };
        let local = rate(&mut labelled.iter().map(|row| (model.bin(&row.signals), row.correct)));
        let remote = rate(&mut judged.iter().map(|(signals, correct)| (model.bin(signals), *correct)));
        model.local_accuracy = local;
        model.remote_accuracy = remote;
        Some(model)
    }

    /// The bin of a question with these signals.
    pub fn bin(&self, signals: &SignalValues) -> usize {
        let p = self.scorer.probability(signals);
        self.edges.partition_point(|edge| *edge <= p)
    }
}

/// AutoMix-P deciding before answering, for one λ: per bin of the question's P(local right),
/// escalate at once or run the cascade (whose policy is solved from that bin's prior).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreAnswerPolicy {
    /// The bins.
    pub model: PreAnswerModel,
    /// Per bin: escalate without answering locally.
    pub escalate_at_once: Vec<bool>,
    /// Per bin: the cascade's policy after the local answer.
    pub cascades: Vec<PomdpPolicy>,
}

impl PreAnswerPolicy {
    /// Solves each bin for `lambda`: `cascade(local, remote)` builds the POMDP from a bin's prior
    /// accuracies; escalating at once scores the bin's remote accuracy at `remote_cost`.
    pub fn solve(model: &PreAnswerModel, cascade: &dyn Fn(f64, f64) -> Result<Pomdp, PomdpError>, lambda: f64, remote_cost: f64) -> Result<Self, PomdpError> {
        let mut escalate_at_once = Vec::with_capacity(model.local_accuracy.len());
        let mut cascades = Vec::with_capacity(model.local_accuracy.len());
        for (&local, &remote) in model.local_accuracy.iter().zip(&model.remote_accuracy) {
            let solution = cascade(local, remote)?.solve(lambda);
            let cascade_value = solution.expected_performance - lambda * solution.expected_cost;
            escalate_at_once.push(remote - lambda * remote_cost > cascade_value);
            cascades.push(solution.policy);
        }
        Ok(PreAnswerPolicy { model: model.clone(), escalate_at_once, cascades })
    }

    /// Whether a question with these (pre-answer) signals goes to the remote model unanswered.
    pub fn escalates_at_once(&self, signals: &SignalValues) -> bool {
        self.escalate_at_once[self.model.bin(signals)]
    }

    /// The decision after the local answer (for questions not escalated at once).
    pub fn decide_after_answer(&self, signals: &SignalValues) -> Action {
        self.cascades[self.model.bin(signals)].decide_first(signals)
    }

    /// Whether the cascades read the self-verification.
    pub fn needs_verifier(&self) -> bool {
        self.cascades.iter().any(PomdpPolicy::slm_needs_verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_forms() {
        assert!(is_factoid("Who designed the Eiffel Tower?"));
        assert!(is_factoid("How many people live in Paris?"));
        assert!(is_factoid("  When did it open?"));
        assert!(!is_factoid("Why did the author leave?"));
        assert!(!is_factoid("Is Paris the capital of France?"));
        assert!(!is_factoid("Whoever said that?"), "a word that starts like one is not one");
        assert_eq!(question_words("Who designed  the tower?"), 4.0);
        let mut values = SignalValues { question_words: Some(9.0), ..Default::default() };
        fill_question_signals(&mut values, "Who?");
        assert_eq!((values.question_words, values.factoid), (Some(9.0), Some(true)), "recorded values are kept");
    }

    #[test]
    fn bins_separate_easy_from_hard_questions_and_shrink_towards_the_overall_rate() {
        // The local model is right when retrieval found the passage; the remote model mostly is.
        let rows: Vec<LabelledSignals> = (0..200)
            .map(|i| {
                let score = f64::from(i % 100) / 100.0;
                LabelledSignals { signals: SignalValues { retrieval_score: Some(score), ..Default::default() }, correct: score > 0.5 }
            })
            .collect();
        let judged: Vec<(&SignalValues, bool)> = rows.iter().map(|row| (&row.signals, true)).collect();
        let model = PreAnswerModel::fit(&rows, &judged, 4).unwrap();
        assert_eq!(model.local_accuracy.len(), 4);
        assert!(model.local_accuracy[0] < 0.2 && model.local_accuracy[3] > 0.8, "{:?}", model.local_accuracy);
        assert!(model.local_accuracy[3] < 1.0, "shrunk towards the overall rate");
        let hard = SignalValues { retrieval_score: Some(0.05), ..Default::default() };
        let easy = SignalValues { retrieval_score: Some(0.95), ..Default::default() };
        assert_eq!((model.bin(&hard), model.bin(&easy)), (0, 3));
    }
}
