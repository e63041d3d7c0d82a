//! Redaction before sending: e-mail addresses, phone numbers, IBANs, card numbers and the words
//! the user lists are replaced by placeholders (`[EMAIL_1]`, `[WORD_2]`) in everything a payload
//! carries, and the placeholders are put back in the remote answer the user reads. The same text
//! always gets the same placeholder, so the remote model can still refer to it.

use std::sync::OnceLock;

use regex::Regex;

use automix_remote::EscalationPayload;

use crate::settings::Redaction;

/// The placeholders a payload got, to put the originals back in the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Masked {
    /// (placeholder, original), in the order they were first met.
    pairs: Vec<(String, String)>,
}

impl Masked {
    /// `text` with each placeholder replaced by what it stands for.
    pub fn restore(&self, text: &str) -> String {
        // Longest placeholder first: [EMAIL_12] before [EMAIL_1].
        let mut pairs: Vec<&(String, String)> = self.pairs.iter().collect();
        pairs.sort_by_key(|(placeholder, _)| std::cmp::Reverse(placeholder.len()));
        pairs.iter().fold(text.to_string(), |text, (placeholder, original)| text.replace(placeholder.as_str(), original))
    }

    /// "2 e-mail addresses and 1 listed word are masked", or None when nothing was.
    pub fn note(&self) -> Option<String> {
        let kinds = [
            ("EMAIL", "e-mail address", "e-mail addresses"),
            ("PHONE", "phone number", "phone numbers"),
            ("IBAN", "IBAN", "IBANs"),
            ("CARD", "card number", "card numbers"),
            ("WORD", "listed word", "listed words"),
        ];
        let parts: Vec<String> = kinds
            .iter()
            .filter_map(|(kind, one, many)| {
                let n = self.pairs.iter().filter(|(placeholder, _)| placeholder.starts_with(&format!("[{kind}_"))).count();
                match n {
                    0 => None,
                    1 => Some(format!("1 {one}")),
                    n => Some(format!("{n} {many}")),
                }
            })
            .collect();
        (!parts.is_empty()).then(|| format!("{} {} masked", parts.join(", "), if self.pairs.len() == 1 { "is" } else { "are" }))
    }
}

/// The personal-data patterns, most specific first: an IBAN or a card number also looks like a
/// phone number.
fn patterns() -> &'static [(&'static str, Regex)] {
    static PATTERNS: OnceLock<Vec<(&'static str, Regex)>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let compile = |pattern: &str| Regex::new(pattern).expect("a valid pattern");
        vec![
            ("EMAIL", compile(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}\b")),
            ("IBAN", compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")),
            ("CARD", compile(r"\b(?:[0-9]{4}[ -]?){3}[0-9]{1,4}\b")),
            // International (+49 30 1234 5678), national with a trunk 0 ((030) 1234-5678,
            // 0171 1234567) or North American ((555) 123-4567): not a bare run of digits, a date
            // or an amount.
            (
                "PHONE",
                compile(
                    r"(?:\+[0-9]{1,3}[ .-]?(?:\(?[0-9]{1,4}\)?[ .-]?){1,4}[0-9]{2,4}|(?:\(0[0-9]{1,4}\)|\b0[0-9]{1,4})[ /-]?[0-9]{3,}(?:[ -][0-9]{2,})*|(?:\([0-9]{3}\) ?|\b[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4})\b",
                ),
            ),
        ]
    })
}

/// Masks `payload` in place (question, passages, earlier turns) by `rules`; returns what was masked.
pub(super) fn mask(payload: &mut EscalationPayload, rules: &Redaction) -> Masked {
    let mut masked = Masked::default();
    if rules.is_off() {
        return masked;
    }
    let words: Vec<Regex> = rules
        .words
        .iter()
        .map(|word| word.trim())
        .filter(|word| !word.is_empty())
        .map(|word| Regex::new(&format!(r"(?i)\b{}\b", regex::escape(word))).expect("an escaped word is a valid pattern"))
        .collect();
    let mut apply = |text: &mut String| {
        if rules.personal_data {
            for (kind, pattern) in patterns() {
                *text = replace_all(text, pattern, kind, &mut masked, is_personal(kind));
            }
        }
        for word in &words {
            *text = replace_all(text, word, "WORD", &mut masked, |_| true);
        }
    };
    apply(&mut payload.question);
    for chunk in &mut payload.chunks {
        apply(&mut chunk.text);
    }
    for turn in &mut payload.earlier_turns {
        apply(&mut turn.content);
    }
    masked
}

/// Whether a match of `kind` is really one: a phone number has at least 7 digits, a card number
/// passes the Luhn check (so that dates and amounts are left alone).
fn is_personal(kind: &str) -> fn(&str) -> bool {
    match kind {
        "PHONE" => |text| text.chars().filter(char::is_ascii_digit).count() >= 7,
        "CARD" => |text| luhn(text),
        _ => |_| true,
    }
}

fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                if d * 2 > 9 {
                    d * 2 - 9
                } else {
                    d * 2
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn replace_all(text: &str, pattern: &Regex, kind: &str, masked: &mut Masked, accept: impl Fn(&str) -> bool) -> String {
    pattern
        .replace_all(text, |captures: &regex::Captures| {
            let found = &captures[0];
            // Placeholders from an earlier pattern are left as they are.
            if !accept(found) || (found.starts_with('[') && found.ends_with(']')) {
                return found.to_string();
            }
            let key = normalise(kind, found);
            if let Some((placeholder, _)) = masked.pairs.iter().find(|(p, original)| p.starts_with(&format!("[{kind}_")) && normalise(kind, original) == key) {
                return placeholder.clone();
            }
            let n = masked.pairs.iter().filter(|(p, _)| p.starts_with(&format!("[{kind}_"))).count() + 1;
            let placeholder = format!("[{kind}_{n}]");
            masked.pairs.push((placeholder.clone(), found.to_string()));
            placeholder
        })
        .into_owned()
}

/// What makes two matches the same text: listed words match ignoring case, so "Quist" and "QUIST"
/// share a placeholder; everything else must be identical.
fn normalise(kind: &str, text: &str) -> String {
    if kind == "WORD" {
        text.to_lowercase()
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automix_remote::{ChatMessage, PayloadChunk};

    fn payload(question: &str, passage: &str) -> EscalationPayload {
        EscalationPayload {
            system_prompt: "Answer.".into(),
            question: question.into(),
            chunks: vec![PayloadChunk { source: "lease.md".into(), text: passage.into() }],
            earlier_turns: vec![ChatMessage { role: "user".into(), content: "Mail ottilie.quist@example.org again?".into() }],
        }
    }

    #[test]
    fn personal_data_and_listed_words_are_masked_everywhere_and_restored_in_the_answer() {
        for phone in ["+49 30 1234 5678", "(030) 1234-5678", "0171 1234567", "(555) 123-4567", "555-123-4567"] {
            let mut sent = payload("Who?", &format!("Call {phone} today."));
            mask(&mut sent, &Redaction { personal_data: true, words: vec![] });
            assert_eq!(sent.chunks[0].text, "Call [PHONE_1] today.", "{phone}");
        }
        let mut sent = payload(
            "Whom does Ottilie Quist pay, and how?",
            "Ottilie Quist (ottilie.quist@example.org, +49 30 1234 5678) pays to DE89 3704 0044 0532 0130 00 with card 4111 1111 1111 1111 on 12.03.2026, 1290 euros.",
        );
        let rules = Redaction { personal_data: true, words: vec!["Ottilie Quist".into(), " ".into()] };
        let masked = mask(&mut sent, &rules);
        let wire = serde_json::to_string(&sent.to_messages()).unwrap();
        for secret in ["ottilie.quist@example.org", "1234 5678", "DE89", "4111 1111", "Ottilie Quist"] {
            assert!(!wire.contains(secret), "{secret} was sent: {wire}");
        }
        assert!(
            wire.contains("[EMAIL_1]") && wire.contains("[PHONE_1]") && wire.contains("[IBAN_1]") && wire.contains("[CARD_1]") && wire.contains("[WORD_1]"),
            "{wire}"
        );
        assert!(wire.contains("12.03.2026") && wire.contains("1290 euros"), "dates and amounts stay: {wire}");
        assert_eq!(sent.earlier_turns[0].content, "Mail [EMAIL_1] again?", "the same address gets the same placeholder everywhere");
        assert_eq!(
            masked.restore("[WORD_1] pays [IBAN_1]; write to [EMAIL_1]."),
            "Ottilie Quist pays DE89 3704 0044 0532 0130 00; write to ottilie.quist@example.org."
        );
        assert_eq!(masked.note().unwrap(), "1 e-mail address, 1 phone number, 1 IBAN, 1 card number, 1 listed word are masked");
    }

    #[test]
    fn nothing_is_masked_when_redaction_is_off_or_nothing_matches() {
        let mut sent = payload("Who pays?", "Call desk 4410 at noon on 12.03.2026; invoice 4111 1111 1111 1112 for 1290 euros.");
        assert_eq!(mask(&mut sent.clone(), &Redaction::default()), Masked::default());
        let masked = mask(&mut sent, &Redaction { personal_data: true, words: vec![] });
        assert!(sent.chunks[0].text.contains("4111 1111 1111 1112"), "a number failing the Luhn check is not a card: {}", sent.chunks[0].text);
        assert!(sent.chunks[0].text.contains("desk 4410 at noon on 12.03.2026"), "an extension and a date are not phone numbers: {}", sent.chunks[0].text);
        assert_eq!(masked.note(), Some("1 e-mail address is masked".into()), "only the earlier turn's address");
    }
}
