//! Text helpers shared by search and packing: a question's query words, a chunk's body without
//! its heading line, and the short excerpt shown with a citation.

use std::collections::HashSet;

use crate::segment::query_terms;

/// Snippet length shown with a citation, in characters.
const SNIPPET_CHARS: usize = 240;
/// Common English words that only slow BM25 down.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had", "has", "have", "how", "in", "is", "it", "its", "of", "on",
    "or", "that", "the", "this", "to", "was", "were", "what", "when", "where", "which", "who", "whom", "why", "with",
];

/// Lowercased query terms worth matching, stopwords dropped, in first-seen order: words, and
/// Chinese, Japanese or Korean runs as the character pairs the index holds.
pub(crate) fn query_words(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .flat_map(query_terms)
        .map(|term| term.to_lowercase())
        .filter(|word| !word.is_empty() && !STOPWORDS.contains(&word.as_str()))
        .filter(|word| seen.insert(word.clone()))
        .collect()
}

/// The chunk text without its heading line.
pub(crate) fn chunk_body<'a>(text: &'a str, section: Option<&str>) -> &'a str {
    section.and_then(|section| text.strip_prefix(section)).and_then(|rest| rest.strip_prefix('\n')).unwrap_or(text)
}

/// About SNIPPET_CHARS characters of `body`, starting a little before the first query word.
pub(crate) fn snippet(body: &str, query_words: &[String]) -> String {
    let lowered = body.to_lowercase();
    // Lowercasing can change byte lengths outside ASCII; then positions are not comparable.
    let first_match = (lowered.len() == body.len())
        .then(|| query_words.iter().filter(|word| word.len() > 2).filter_map(|word| lowered.find(word.as_str())).min())
        .flatten()
        .unwrap_or(0);
    let start_char = body[..first_match].chars().count().saturating_sub(SNIPPET_CHARS / 3);
    let total_chars = body.chars().count();
    let excerpt: String = body.chars().skip(start_char).take(SNIPPET_CHARS).collect();
    let mut snippet = excerpt.split_whitespace().collect::<Vec<_>>().join(" ");
    if start_char > 0 {
        snippet.insert(0, '…');
    }
    if start_char + SNIPPET_CHARS < total_chars {
        snippet.push('…');
    }
    snippet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_starts_near_the_first_query_word() {
        let body = format!("{} The treaty was signed in Paris. {}", "filler ".repeat(80), "tail ".repeat(80));
        let snippet = snippet(&body, &["treaty".to_string()]);
        assert!(snippet.starts_with('…') && snippet.ends_with('…'));
        assert!(snippet.contains("treaty was signed in Paris"), "{snippet}");
    }

    #[test]
    fn query_words_drop_stopwords_and_fts_syntax() {
        assert_eq!(query_words("What is the \"NEAR\" OR-clause of C++?"), vec!["near", "clause", "c"]);
        assert_eq!(query_words("東京都の人口は？"), vec!["東京", "京都", "都の", "の人", "人口", "口は"]);
    }
}
