//! Cutting text into sentences and words in any script, and the form of a text the word index
//! reads: compatibility characters folded, and Chinese, Japanese and Korean runs cut into the
//! overlapping pairs of characters that stand in for words where scripts put no spaces.

use std::ops::Range;

use unicode_normalization::UnicodeNormalization;

/// Words after which a full stop does not end the sentence: titles and abbreviations that are
/// followed by a name or a number ("Dr. Smith", "Fig. 3", "e.g. this"). Ones that often end a
/// sentence ("etc.", "Inc.") are left out: splitting there costs less than gluing two sentences.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "sr", "rev", "gen", "col", "lt", "sgt", "capt", "hon", "fig", "figs", "no", "nos", "vol", "vols", "pp", "p", "ch",
    "sec", "art", "eq", "approx", "ca", "cf", "vs", "viz", "al", "e.g", "i.e", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "bzw", "z.b", "d.h", "usw", "u.a", "ggf", "vgl", "nr", "bd", "s", "т.е", "т.д", "т.п", "др", "г", "гг", "см", "рис", "стр", "им",
];

/// Marks that end a sentence only before whitespace (or the end of the text).
fn ends_sentence_before_space(character: char) -> bool {
    matches!(character, '.' | '!' | '?' | '…' | '।' | '॥' | '؟' | '۔' | '։' | '።')
}

/// Chinese and Japanese full stops and marks: they end a sentence with no space after them.
fn ends_sentence_anywhere(character: char) -> bool {
    matches!(character, '。' | '！' | '？' | '｡' | '．')
}

/// Quotes and brackets that close a sentence after its final mark.
fn closes_sentence(character: char) -> bool {
    matches!(character, '"' | '\'' | ')' | ']' | '”' | '’' | '»' | '」' | '』' | '）' | '】' | '〕' | '〉' | '》')
}

/// Characters of scripts written without spaces between words (Han, kana, Hangul).
fn is_cjk(character: char) -> bool {
    matches!(character as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF    // Katakana phonetic extensions
        | 0x3400..=0x4DBF    // Han extension A
        | 0x4E00..=0x9FFF    // Han
        | 0xF900..=0xFAFF    // Han compatibility
        | 0x1100..=0x11FF    // Hangul Jamo
        | 0x3130..=0x318F    // Hangul compatibility Jamo
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0x20000..=0x2FA1F  // Han extensions B–F and supplement
    )
}

/// The sentences of `text`, trimmed, in order.
pub fn sentences(text: &str) -> Vec<&str> {
    sentence_ranges(text, 0..text.len()).into_iter().map(|range| &text[range]).collect()
}

/// Sentence byte ranges inside `range` of `text`. A sentence ends after `.` `!` `?` `…` (and
/// the quotes or brackets closing it) before whitespace, unless the full stop ends an
/// abbreviation or an initial, or the next word starts in lower case; and after a Chinese or
/// Japanese full stop, exclamation or question mark, space or not.
pub fn sentence_ranges(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let slice = &text[range.clone()];
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut characters = slice.char_indices().peekable();
    while let Some((index, character)) = characters.next() {
        let anywhere = ends_sentence_anywhere(character);
        if !anywhere && !ends_sentence_before_space(character) {
            continue;
        }
        let mut end = index + character.len_utf8();
        while let Some(&(next_index, next)) = characters.peek() {
            if closes_sentence(next) || (next == character && character != '.') {
                end = next_index + next.len_utf8();
                characters.next();
            } else {
                break;
            }
        }
        let at_space = characters.peek().is_none_or(|(_, next)| next.is_whitespace());
        let breaks = if anywhere { true } else { at_space && !(character == '.' && full_stop_continues(&slice[start..index], &slice[end..])) };
        if breaks {
            push_trimmed(&mut sentences, slice, start..end, range.start);
            start = end;
        }
    }
    push_trimmed(&mut sentences, slice, start..slice.len(), range.start);
    sentences
}

/// Whether a full stop between `before` and `after` belongs to an abbreviation or an initial
/// rather than ending the sentence.
fn full_stop_continues(before: &str, after: &str) -> bool {
    let Some(next) = after.trim_start().chars().next() else {
        return false;
    };
    let word = before.rsplit(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '"' | '“' | '«')).next().unwrap_or("");
    let mut letters = word.chars();
    let initial = matches!((letters.next(), letters.next()), (Some(first), None) if first.is_uppercase());
    next.is_lowercase() || initial || ABBREVIATIONS.contains(&word.to_lowercase().as_str())
}

fn push_trimmed(ranges: &mut Vec<Range<usize>>, slice: &str, local: Range<usize>, base: usize) {
    let part = &slice[local.clone()];
    let leading = part.len() - part.trim_start().len();
    let trailing = part.len() - part.trim_end().len();
    if leading + trailing < part.len() {
        ranges.push(base + local.start + leading..base + local.end - trailing);
    }
}

/// Word byte ranges inside `range`: runs between whitespace, except that each Chinese, Japanese
/// or Korean character is a word of its own, so a long sentence in those scripts can still be cut.
pub(crate) fn word_ranges(text: &str, range: Range<usize>) -> Vec<Range<usize>> {
    let slice = &text[range.clone()];
    let mut words = Vec::new();
    let mut word_start = None;
    for (index, character) in slice.char_indices() {
        if character.is_whitespace() || is_cjk(character) {
            if let Some(start) = word_start.take() {
                words.push(range.start + start..range.start + index);
            }
            if is_cjk(character) {
                words.push(range.start + index..range.start + index + character.len_utf8());
            }
        } else if word_start.is_none() {
            word_start = Some(index);
        }
    }
    if let Some(start) = word_start {
        words.push(range.start + start..range.end);
    }
    words
}

/// The text the word index reads for `text`: compatibility forms folded (NFKC: "ﬁle" → "file",
/// full-width "ＡＢＣ" → "ABC"), and each run of Chinese, Japanese or Korean characters written as
/// its single characters and its overlapping pairs, separated by spaces, so the index's word
/// tokenizer sees them as terms. Citations keep the text as printed; only the index reads this.
pub fn index_text(text: &str) -> String {
    spaced_cjk_terms(text, true)
}

/// The index terms of a query word: folded like [`index_text`], and a Chinese, Japanese or Korean
/// run as its overlapping pairs (a single character alone), which is what the index holds for it.
pub(crate) fn query_terms(word: &str) -> Vec<String> {
    spaced_cjk_terms(word, false).split_whitespace().map(str::to_string).collect()
}

/// `text` NFKC-folded, with each CJK run replaced by its terms between spaces: its pairs, plus its
/// single characters when `with_singles` (the index holds both, so a one-character question word
/// still finds its passages; a query asks for pairs, which rank better).
fn spaced_cjk_terms(text: &str, with_singles: bool) -> String {
    let folded: String = text.nfkc().collect();
    let mut out = String::with_capacity(folded.len() * 2);
    let mut run: Vec<char> = Vec::new();
    for character in folded.chars().chain(std::iter::once(' ')) {
        if is_cjk(character) {
            run.push(character);
            continue;
        }
        if !run.is_empty() {
            out.push(' ');
            if run.len() == 1 || with_singles {
                run.iter().for_each(|single| out.extend([*single, ' ']));
            }
            run.windows(2).for_each(|pair| out.extend([pair[0], pair[1], ' ']));
            run.clear();
        }
        out.push(character);
    }
    out.pop();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_after_terminal_punctuation_only_before_whitespace() {
        assert_eq!(sentences("Pi is 3.14 exactly. \"Really?\" Yes! End"), vec!["Pi is 3.14 exactly.", "\"Really?\"", "Yes!", "End"]);
    }

    #[test]
    fn abbreviations_and_initials_do_not_end_a_sentence() {
        let text = "Dr. Smith met Prof. J. K. Rowling at St. Mary's, e.g. in May. See Fig. 3 for details. Costs rose approx. 5%. \
                    It was done etc. Then it ended.";
        assert_eq!(
            sentences(text),
            vec![
                "Dr. Smith met Prof. J. K. Rowling at St. Mary's, e.g. in May.",
                "See Fig. 3 for details.",
                "Costs rose approx. 5%.",
                "It was done etc.",
                "Then it ended."
            ]
        );
    }

    #[test]
    fn a_lowercase_next_word_continues_the_sentence() {
        assert_eq!(sentences("The value is 3 vs. the old one. Next."), vec!["The value is 3 vs. the old one.", "Next."]);
        assert_eq!(sentences("Он сказал т.е. так. Потом ушёл."), vec!["Он сказал т.е. так.", "Потом ушёл."]);
    }

    #[test]
    fn chinese_and_japanese_sentences_end_at_their_own_marks() {
        assert_eq!(sentences("東京は日本の首都です。人口は多い！「本当？」はい。"), vec!["東京は日本の首都です。", "人口は多い！", "「本当？」", "はい。"]);
        assert_eq!(sentences("What?! Really... Yes."), vec!["What?!", "Really...", "Yes."]);
    }

    #[test]
    fn cjk_characters_are_words_of_their_own() {
        let text = "Windows版 の設定";
        let words: Vec<&str> = word_ranges(text, 0..text.len()).into_iter().map(|range| &text[range]).collect();
        assert_eq!(words, vec!["Windows", "版", "の", "設", "定"]);
    }

    #[test]
    fn the_index_folds_ligatures_and_pairs_cjk_characters() {
        assert_eq!(index_text("ﬁle ＡＢＣ").split_whitespace().collect::<Vec<_>>(), vec!["file", "ABC"]);
        let indexed = index_text("東京都に");
        let terms: Vec<&str> = indexed.split_whitespace().collect();
        for term in ["東", "都", "東京", "京都", "都に"] {
            assert!(terms.contains(&term), "{term} missing from {terms:?}");
        }
        assert_eq!(query_terms("東京都"), vec!["東京", "京都"]);
        assert_eq!(query_terms("猫"), vec!["猫"]);
        assert_eq!(query_terms("Windows版"), vec!["Windows", "版"]);
        assert_eq!(query_terms("ﬁle"), vec!["file"]);
    }
}
