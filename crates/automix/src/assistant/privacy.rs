//! What never leaves this device: the passages of private documents (marked so themselves or
//! inside a private folder) and the earlier turns that read one. Every payload the engine builds
//! for a remote model (an escalation the router decides, one the user asks for, a preview) is
//! built by `payload` here, so the rule lives in one place.

use std::collections::HashSet;

use automix_docs::SearchHit;
use automix_remote::{ChatMessage, EscalationPayload, PayloadChunk};
use automix_types::SourceLocation;

use super::redaction::{self, Masked};
use crate::prompts::Turn;
use crate::settings::Redaction;

/// What the remote model is told besides the question and the passages.
const REMOTE_SYSTEM_PROMPT: &str = "Answer the question using only the provided context. Be concise.";

/// The documents whose passages never leave this device, as the library says at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivateDocuments {
    ids: HashSet<i64>,
}

impl PrivateDocuments {
    pub fn new(ids: HashSet<i64>) -> Self {
        PrivateDocuments { ids }
    }

    /// Whether a passage from `location` is private. A passage stored without its location (a
    /// history row older than locations) cannot be told apart: while any document is private it
    /// counts as private, never sent on a guess.
    pub fn holds(&self, location: Option<&SourceLocation>) -> bool {
        match location {
            Some(location) => self.ids.contains(&location.document_id),
            None => !self.ids.is_empty(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// One passage an answer read, with whether it is private.
pub(super) struct Passage {
    pub source: String,
    pub text: String,
    pub private: bool,
}

impl Passage {
    /// A retrieved passage, labelled as a payload labels it (no file path).
    pub fn of_hit(hit: &SearchHit, private: &PrivateDocuments) -> Self {
        Passage { source: hit.citation.location.reference(), text: hit.text.clone(), private: private.holds(Some(&hit.citation.location)) }
    }
}

/// What a payload left out because it is private.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Withheld {
    /// Passages of private documents.
    pub passages: usize,
    /// Earlier turns of the conversation that read a private document.
    pub turns: usize,
    /// The answer read passages and every one of them is private: there is nothing to send.
    pub every_passage: bool,
}

impl Withheld {
    /// "2 passages from private documents are not sent", or None when nothing was withheld.
    pub fn note(&self) -> Option<String> {
        let plural = |n: usize, one: &str, many: &str| if n == 1 { format!("1 {one}") } else { format!("{n} {many}") };
        let parts: Vec<String> = [
            (self.passages > 0).then(|| plural(self.passages, "passage from a private document", "passages from private documents")),
            (self.turns > 0).then(|| plural(self.turns, "earlier turn that read a private document", "earlier turns that read a private document")),
        ]
        .into_iter()
        .flatten()
        .collect();
        match parts.len() {
            0 => None,
            _ => Some(format!("{} {} not sent", parts.join(" and "), if self.passages + self.turns == 1 { "is" } else { "are" })),
        }
    }
}

/// A payload as it will be sent, with what was left out and what was masked in it.
#[derive(Debug, Clone)]
pub struct BuiltPayload {
    pub payload: EscalationPayload,
    pub withheld: Withheld,
    /// The placeholders it carries instead of personal data and listed words.
    pub masked: Masked,
}

impl BuiltPayload {
    /// The messages Send would put on the wire; none when every passage is private, since then
    /// nothing is sent.
    pub fn messages_sent(&self) -> Vec<ChatMessage> {
        if self.withheld.every_passage {
            Vec::new()
        } else {
            self.payload.to_messages()
        }
    }
}

/// Exactly what leaves the machine when a question escalates: the system prompt, the earlier
/// turns and the passages that touch no private document, and the question, masked by `redaction`;
/// with what was left out and what was masked.
pub(super) fn payload(question: &str, passages: impl Iterator<Item = Passage>, earlier: &[Turn], redaction: &Redaction) -> BuiltPayload {
    let mut withheld = Withheld::default();
    let mut chunks = Vec::new();
    for passage in passages {
        if passage.private {
            withheld.passages += 1;
        } else {
            chunks.push(PayloadChunk { source: passage.source, text: passage.text });
        }
    }
    withheld.every_passage = withheld.passages > 0 && chunks.is_empty();
    let mut earlier_turns = Vec::new();
    for turn in earlier {
        if turn.read_private {
            withheld.turns += 1;
            continue;
        }
        earlier_turns.push(ChatMessage { role: "user".into(), content: turn.question.clone() });
        earlier_turns.push(ChatMessage { role: "assistant".into(), content: turn.answer.clone() });
    }
    let mut payload = EscalationPayload { system_prompt: REMOTE_SYSTEM_PROMPT.into(), question: question.to_string(), chunks, earlier_turns };
    let masked = redaction::mask(&mut payload, redaction);
    BuiltPayload { payload, withheld, masked }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passage(text: &str, private: bool) -> Passage {
        Passage { source: format!("{text}.md"), text: text.into(), private }
    }

    fn turn(question: &str, read_private: bool) -> Turn {
        Turn { question: question.into(), answer: format!("answer to {question}"), read_private }
    }

    #[test]
    fn private_passages_and_the_turns_that_read_them_stay_out_of_the_payload() {
        let BuiltPayload { payload: sent, withheld, .. } = payload(
            "Which clause applies?",
            [passage("lease terms", true), passage("public law", false), passage("salary slip", true)].into_iter(),
            &[turn("What is my deposit?", true), turn("What does the law say?", false)],
            &Redaction::default(),
        );
        let bytes = serde_json::to_string(&sent.to_messages()).unwrap();
        for private in ["lease terms", "salary slip", "What is my deposit?", "answer to What is my deposit?"] {
            assert!(!bytes.contains(private), "{private} was sent: {bytes}");
        }
        for public in ["public law", "What does the law say?", "Which clause applies?"] {
            assert!(bytes.contains(public), "{public} is missing: {bytes}");
        }
        assert_eq!(withheld, Withheld { passages: 2, turns: 1, every_passage: false });
        assert_eq!(withheld.note().unwrap(), "2 passages from private documents and 1 earlier turn that read a private document are not sent");
    }

    #[test]
    fn an_answer_read_only_from_private_passages_has_nothing_to_send() {
        let BuiltPayload { payload: sent, withheld, .. } = payload("Q?", [passage("a", true)].into_iter(), &[], &Redaction::default());
        assert!(sent.chunks.is_empty());
        assert!(withheld.every_passage);
        assert_eq!(withheld.note().unwrap(), "1 passage from a private document is not sent");
        let nothing = payload("Q?", std::iter::empty(), &[], &Redaction::default()).withheld;
        assert_eq!((nothing.every_passage, nothing.note()), (false, None), "no passages at all is not 'all private'");
    }

    #[test]
    fn a_passage_without_its_location_counts_as_private() {
        let private = PrivateDocuments::new([7].into());
        let location = |document_id| SourceLocation {
            document_id,
            path: "p".into(),
            title: "t".into(),
            page_start: None,
            page_end: None,
            page_label_start: None,
            page_label_end: None,
            ocr_confidence: None,
            section: None,
            char_start: 0,
            char_end: 1,
        };
        assert!(private.holds(Some(&location(7))));
        assert!(!private.holds(Some(&location(8))));
        assert!(private.holds(None));
        assert!(!PrivateDocuments::default().holds(None), "with no private documents, nothing is private");
    }
}
