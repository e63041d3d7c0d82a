//! Packing retrieved chunks into a model's context budget.
//!
//! Whole chunks (up to 250 tokens) let only two sources into a 512-token context, yet the answer
//! is often in the third to fifth hit. So each source may use half of the budget still left (at
//! least a fifth of the whole): the best hit keeps most of its chunk, later ones are cut down to
//! the sentences around the one that matches the question best. Equal shares for all sources lost
//! more answers to trimming than they gained in sources (docs/evaluation-retrieval.md).

use std::collections::HashSet;
use std::ops::Range;

use crate::chunk::TokenCounter;
use crate::hit::SearchHit;
use crate::segment::{sentence_ranges, word_ranges};
use crate::text::{chunk_body, query_words, snippet};

/// Every source may use at least this share of the budget.
const SOURCES_PER_BUDGET: usize = 5;
/// A source trimmed below this many tokens says too little to be worth its citation.
const MIN_SOURCE_TOKENS: usize = 24;
/// Query words match sentence words on this many leading characters, a crude stemmer
/// ("capital" finds "capitals", "signed" finds "signing").
const STEM_CHARS: usize = 5;

/// Picks hits best-first while they fit `budget_tokens` (counted with `counter`), each cut to at
/// most half of the budget left (or a fifth of it) around its best match for `question`. Duplicates, chunks already
/// covered by a chosen one and overlaps with chosen text are left out. Returns document order.
pub fn select_for_budget(hits: &[SearchHit], question: &str, budget_tokens: usize, counter: &dyn TokenCounter) -> Vec<SearchHit> {
    let share = (budget_tokens / SOURCES_PER_BUDGET).max(MIN_SOURCE_TOKENS);
    let stems = weighted_stems(question, hits);
    let mut chosen: Vec<SearchHit> = Vec::new();
    let mut seen_texts: HashSet<&str> = HashSet::new();
    let mut used = 0;
    for hit in hits {
        let remaining = budget_tokens.saturating_sub(used);
        if remaining < MIN_SOURCE_TOKENS.min(budget_tokens) {
            break;
        }
        if !seen_texts.insert(hit.text.as_str()) {
            continue;
        }
        let allowance = share.max(remaining / 2).min(remaining);
        let Some(piece) = focus(hit, &stems, allowance, counter) else { continue };
        let Some(piece) = without_chosen_text(piece, &chosen, counter) else { continue };
        used += piece.token_count;
        chosen.push(piece);
    }
    chosen.sort_by(|a, b| {
        (a.citation.location.path.as_str(), a.citation.location.char_start).cmp(&(b.citation.location.path.as_str(), b.citation.location.char_start))
    });
    chosen
}

/// The hit itself when it fits `allowance` tokens, else its best window of whole sentences
/// (or, for one overlong sentence, its best run of words); None when nothing fits.
fn focus(hit: &SearchHit, stems: &[(String, f64)], allowance: usize, counter: &dyn TokenCounter) -> Option<SearchHit> {
    let tokens = counter.count_tokens(&hit.text);
    if tokens <= allowance {
        return Some(SearchHit { token_count: tokens, ..hit.clone() });
    }
    let body = chunk_body(&hit.text, hit.citation.location.section.as_deref());
    let sentences = sentence_ranges(body, 0..body.len());
    let best = sentences
        .iter()
        .enumerate()
        .map(|(index, sentence)| (index, matches(&body[sentence.clone()], stems)))
        .fold(None, |best: Option<(usize, f64)>, (index, score)| match best {
            Some((_, best_score)) if best_score >= score => best,
            _ => Some((index, score)),
        })
        .map(|(index, _)| index)?;
    let fits = |range: Range<usize>| {
        let piece = window(hit, body, range, counter);
        (piece.token_count <= allowance).then_some(piece)
    };
    let (mut first, mut last) = (best, best);
    let mut piece = match fits(sentences[best].clone()) {
        Some(piece) => piece,
        None => return best_words(hit, body, sentences[best].clone(), stems, allowance, counter),
    };
    // Grow one sentence at a time, after the match first: answers tend to follow the sentence
    // that repeats the question's words.
    loop {
        let mut grown = false;
        if let Some(bigger) = sentences.get(last + 1).and_then(|next| fits(sentences[first].start..next.end)) {
            (last, piece, grown) = (last + 1, bigger, true);
        }
        if let Some(bigger) = first.checked_sub(1).and_then(|previous| fits(sentences[previous].start..sentences[last].end)) {
            (first, piece, grown) = (first - 1, bigger, true);
        }
        if !grown {
            return Some(piece);
        }
    }
}

/// For a sentence longer than `allowance`: the run of its words that fits and holds the most of
/// the question's weight (a signature block or a table row can be one "sentence" of hundreds of
/// words, with the match at its end).
fn best_words(hit: &SearchHit, body: &str, sentence: Range<usize>, stems: &[(String, f64)], allowance: usize, counter: &dyn TokenCounter) -> Option<SearchHit> {
    let words = word_ranges(body, sentence.clone());
    let span = |first: usize, count: usize| words[first].start..words[first + count - 1].end;
    let fits = |first: usize, count: usize| window(hit, body, span(first, count), counter).token_count <= allowance;
    // How many words fit is measured at the start; words elsewhere may take more tokens, which
    // the final check below corrects.
    let mut count = (1..=words.len()).collect::<Vec<_>>().partition_point(|&count| fits(0, count));
    if count == 0 {
        return None;
    }
    let weights: Vec<f64> = words.iter().map(|word| matches(&body[word.clone()], stems)).collect();
    let sum = |first: usize, count: usize| weights[first..first + count].iter().sum::<f64>();
    // Of the windows holding the most weight, the last: the most text after the match, where
    // answers tend to be (as when whole sentences grow).
    let best = (0..=words.len() - count).map(|start| sum(start, count)).fold(f64::MIN, f64::max);
    let mut first = (0..=words.len() - count).rev().find(|&start| sum(start, count) >= best - 1e-9).unwrap_or(0);
    while !fits(first, count) {
        count -= 1;
        if count == 0 {
            return None;
        }
        // Drop the lighter end.
        if weights[first] <= weights[first + count] {
            first += 1;
        }
    }
    let piece = window(hit, body, span(first, count), counter);
    (piece.token_count >= MIN_SOURCE_TOKENS.min(allowance)).then_some(piece)
}

/// The part `range` (bytes of `body`) of a hit, with its heading line, citation and token count.
fn window(hit: &SearchHit, body: &str, range: Range<usize>, counter: &dyn TokenCounter) -> SearchHit {
    let part = &body[range.clone()];
    let text = match &hit.citation.location.section {
        Some(section) => format!("{section}\n{part}"),
        None => part.to_string(),
    };
    let mut citation = hit.citation.clone();
    citation.location.char_start = hit.citation.location.char_start + body[..range.start].chars().count();
    citation.location.char_end = citation.location.char_start + part.chars().count();
    citation.snippet = snippet(part, &[]);
    SearchHit { token_count: counter.count_tokens(&text), text, citation, ..hit.clone() }
}

/// `piece` without the text that chosen sources of the same document already hold; None when
/// nothing is left. Chunks overlap their neighbours, so neighbouring hits share sentences.
fn without_chosen_text(piece: SearchHit, chosen: &[SearchHit], counter: &dyn TokenCounter) -> Option<SearchHit> {
    let mut range = piece.citation.location.char_start..piece.citation.location.char_end;
    for kept in chosen.iter().filter(|kept| kept.citation.location.document_id == piece.citation.location.document_id) {
        let kept_range = kept.citation.location.char_start..kept.citation.location.char_end;
        if kept_range.start <= range.start && range.end <= kept_range.end {
            return None;
        }
        if kept_range.start <= range.start && range.start < kept_range.end {
            range.start = kept_range.end;
        } else if range.start < kept_range.start && kept_range.start < range.end {
            range.end = kept_range.start;
        }
    }
    if range == (piece.citation.location.char_start..piece.citation.location.char_end) {
        return Some(piece);
    }
    let body = chunk_body(&piece.text, piece.citation.location.section.as_deref());
    let to_byte = |char_index: usize| body.char_indices().nth(char_index - piece.citation.location.char_start).map_or(body.len(), |(byte, _)| byte);
    let (start, end) = (to_byte(range.start), to_byte(range.end));
    let trimmed = body[start..end].trim();
    if trimmed.split_whitespace().count() < 3 {
        return None;
    }
    let start = start + (body[start..end].len() - body[start..end].trim_start().len());
    Some(window(&piece, body, start..start + trimmed.len(), counter))
}

fn stem(word: &str) -> String {
    word.chars().take(STEM_CHARS).collect()
}

fn stems_of(text: &str) -> HashSet<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| stem(&w.to_lowercase())).collect()
}

/// The question's stems, each weighed by how rare it is among the hits (an inverse document
/// frequency over the candidates): "year" in every hit tells less than a name in two.
fn weighted_stems(question: &str, hits: &[SearchHit]) -> Vec<(String, f64)> {
    let hit_stems: Vec<HashSet<String>> = hits.iter().map(|hit| stems_of(&hit.text)).collect();
    let total = hit_stems.len() as f64;
    query_words(question)
        .iter()
        .map(|word| stem(word))
        .map(|stem| {
            let containing = hit_stems.iter().filter(|stems| stems.contains(&stem)).count() as f64;
            let weight = ((total + 1.0) / (containing + 0.5)).ln();
            (stem, weight)
        })
        .collect()
}

/// The summed weights of the question's stems that occur in `sentence`.
fn matches(sentence: &str, stems: &[(String, f64)]) -> f64 {
    let words = stems_of(sentence);
    stems.iter().filter(|(stem, _)| words.contains(stem)).map(|(_, weight)| weight).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::WordTokenEstimate;
    use crate::hit::Citation;
    use automix_types::SourceLocation;

    fn hit(chunk_id: i64, path: &str, char_start: usize, text: &str) -> SearchHit {
        SearchHit {
            chunk_id,
            ordinal: 0,
            score: 1.0 / chunk_id as f64,
            similarity: None,
            text: text.to_string(),
            token_count: text.split_whitespace().count(),
            citation: Citation {
                location: SourceLocation {
                    document_id: path.bytes().map(i64::from).sum(),
                    path: path.to_string(),
                    title: path.to_string(),
                    page_start: None,
                    page_end: None,
                    page_label_start: None,
                    page_label_end: None,
                    ocr_confidence: None,
                    section: None,
                    char_start,
                    char_end: char_start + text.chars().count(),
                },
                snippet: String::new(),
            },
        }
    }

    fn words(count: usize, word: &str) -> String {
        format!("{}.", vec![word; count].join(" "))
    }

    #[test]
    fn small_hits_are_taken_whole_best_first_deduplicated_in_document_order() {
        let hits = vec![
            hit(1, "b.txt", 500, &words(20, "one")),
            hit(2, "a.txt", 0, &words(20, "two")),
            hit(1, "b.txt", 500, &words(20, "one")), // the same chunk again
            hit(3, "b.txt", 10, &words(20, "three")),
            hit(4, "b.txt", 505, "one one"), // inside chunk 1
        ];
        let chosen = select_for_budget(&hits, "anything", 400, &WordTokenEstimate);
        let ids: Vec<i64> = chosen.iter().map(|hit| hit.chunk_id).collect();
        assert_eq!(ids, vec![2, 3, 1]);
        assert!(chosen.iter().all(|hit| hit.text.split_whitespace().count() == 20));
    }

    #[test]
    fn long_hits_are_cut_to_the_sentences_around_the_best_match() {
        let filler = words(30, "filler");
        let text = format!("{filler} {filler} The lighthouse was first lit in 1884. Its keeper was Anna Holm. {filler} {filler}");
        let long = hit(1, "doc.txt", 1000, &text);
        let chosen = select_for_budget(std::slice::from_ref(&long), "When was the lighthouse first lit?", 200, &WordTokenEstimate);
        let [piece] = chosen.as_slice() else { panic!("one source expected, got {chosen:?}") };
        assert!(piece.text.contains("first lit in 1884") && piece.text.contains("Anna Holm"), "{}", piece.text);
        assert!(piece.token_count <= 100, "half of the budget at most: {}", piece.token_count);
        assert!(piece.text.len() < text.len() - 100, "trimmed: {}", piece.text);
        // The citation points at exactly the kept text inside the document.
        let offset = text.find("The lighthouse").unwrap();
        assert!(piece.citation.location.char_start <= 1000 + offset && piece.citation.location.char_end <= long.citation.location.char_end);
        let body: String =
            text.chars().skip(piece.citation.location.char_start - 1000).take(piece.citation.location.char_end - piece.citation.location.char_start).collect();
        assert_eq!(body, piece.text);
    }

    #[test]
    fn an_overlong_sentence_keeps_the_words_around_the_match() {
        let text = format!("{} the receiving party must shred all copies within seven days", "signed } designation }".repeat(60));
        let chosen = select_for_budget(&[hit(1, "nda.txt", 0, &text)], "When must copies be shredded?", 100, &WordTokenEstimate);
        let [piece] = chosen.as_slice() else { panic!("one source expected, got {chosen:?}") };
        assert!(piece.text.ends_with("shred all copies within seven days"), "{}", piece.text);
        assert!(piece.token_count <= 50, "{}", piece.token_count);
        assert_eq!(&text[piece.citation.location.char_start..piece.citation.location.char_end], piece.text);
    }

    /// Counts a token per four characters, so that one long word can outweigh the rest.
    struct CharTokens;

    impl TokenCounter for CharTokens {
        fn count_tokens(&self, text: &str) -> usize {
            text.chars().count().div_ceil(4)
        }
    }

    #[test]
    fn words_that_never_fit_give_no_source_rather_than_a_panic() {
        for text in ["ok https://example.org/".to_string() + &"x".repeat(400), "x".repeat(400), "深".repeat(300)] {
            let chosen = select_for_budget(&[hit(1, "a.txt", 0, &text)], "unrelated question", 100, &CharTokens);
            assert!(chosen.iter().all(|piece| piece.token_count <= 100), "{chosen:?}");
        }
    }

    #[test]
    fn overlapping_neighbours_keep_only_new_text() {
        let first = hit(1, "doc.txt", 0, "Alpha beta gamma. Delta epsilon zeta. Eta theta iota.");
        let overlap_start = first.text.find("Eta").unwrap();
        let second = hit(2, "doc.txt", overlap_start, "Eta theta iota. Kappa lambda mu nu.");
        let chosen = select_for_budget(&[first, second], "alpha kappa", 400, &WordTokenEstimate);
        let texts: Vec<&str> = chosen.iter().map(|hit| hit.text.as_str()).collect();
        assert_eq!(texts, vec!["Alpha beta gamma. Delta epsilon zeta. Eta theta iota.", "Kappa lambda mu nu."]);
    }

    #[test]
    fn the_budget_is_never_exceeded() {
        let hits: Vec<SearchHit> = (1..30).map(|id| hit(id, &format!("{id}.txt"), 0, &words(7 * id as usize, "word"))).collect();
        for budget in [10, 50, 130, 512, 2000] {
            let chosen = select_for_budget(&hits, "word", budget, &WordTokenEstimate);
            let used: usize = chosen.iter().map(|hit| WordTokenEstimate.count_tokens(&hit.text)).sum();
            assert!(used <= budget, "{used} tokens used of {budget}");
            assert!(!chosen.is_empty() || budget < MIN_SOURCE_TOKENS);
        }
    }
}
