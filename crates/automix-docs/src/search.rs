//! Hybrid retrieval (FTS5 BM25 + embedding similarity, fused by reciprocal rank) and context packing.

use std::collections::{HashMap, HashSet};

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::chunk::TokenCounter;
use crate::embed::Embedder;
use crate::store::Library;
use crate::DocsError;

/// Each ranking contributes weight / (RRF_K + rank); 60 is the usual constant from the RRF paper.
const RRF_K: f64 = 60.0;
const BM25_WEIGHT: f64 = 1.0;
/// MiniLM alone ranks keyword-heavy questions worse than BM25 (SQuAD recall@1 0.56 against 0.79,
/// docs/evaluation-retrieval.md), so with equal votes it drags good BM25 answers down.
const VECTOR_WEIGHT: f64 = 0.5;
/// How deep each ranking is read before fusing.
const CANDIDATES_PER_RANKING: usize = 50;
/// Snippet length shown with a citation, in characters.
const SNIPPET_CHARS: usize = 240;
/// Common English words that only slow BM25 down.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had", "has", "have", "how", "in",
    "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "what", "when", "where", "which",
    "who", "whom", "why", "with",
];

/// Which rankings a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// BM25 and vector similarity fused by reciprocal rank.
    #[default]
    Hybrid,
    Bm25,
    Vector,
}

/// Where a chunk came from, for showing and checking a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub document_id: i64,
    pub path: String,
    pub title: String,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    pub section: Option<String>,
    /// Character range of the chunk body in the document's extracted text.
    pub char_start: usize,
    pub char_end: usize,
    /// A short excerpt around the first query word found, for display.
    pub snippet: String,
}

impl std::fmt::Display for Citation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.title)?;
        match (self.page_start, self.page_end) {
            (Some(start), Some(end)) if end > start => write!(f, ", pp. {start}–{end}")?,
            (Some(page), _) => write!(f, ", p. {page}")?,
            _ => {}
        }
        if let Some(section) = &self.section {
            write!(f, ", § {section}")?;
        }
        write!(f, " ({}, chars {}–{})", self.path, self.char_start, self.char_end)
    }
}

/// One retrieved chunk with its score and citation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chunk_id: i64,
    /// Position of the chunk inside its document.
    pub ordinal: usize,
    /// Fused reciprocal-rank score; higher is better.
    pub score: f64,
    /// The chunk text as it goes into a prompt (heading line first).
    pub text: String,
    /// Tokens of the embedder's tokenizer.
    pub token_count: usize,
    pub citation: Citation,
}

impl Library {
    /// The best `limit` chunks for `query`, best first.
    pub fn search(&mut self, embedder: &Embedder, query: &str, limit: usize, mode: SearchMode) -> Result<Vec<SearchHit>, DocsError> {
        let depth = CANDIDATES_PER_RANKING.max(limit);
        let mut rankings = Vec::new();
        if mode != SearchMode::Vector {
            rankings.push((BM25_WEIGHT, self.bm25_ranking(query, depth)?));
        }
        if mode != SearchMode::Bm25 {
            let query_vector = embedder.embed_one(query)?;
            rankings.push((VECTOR_WEIGHT, self.vector_ranking(&query_vector, depth)?));
        }
        let mut fused: HashMap<i64, f64> = HashMap::new();
        for (weight, ranking) in &rankings {
            for (rank, chunk_id) in ranking.iter().enumerate() {
                *fused.entry(*chunk_id).or_default() += weight / (RRF_K + rank as f64 + 1.0);
            }
        }
        let mut ordered: Vec<(i64, f64)> = fused.into_iter().collect();
        ordered.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ordered.truncate(limit);
        let words = query_words(query);
        ordered
            .into_iter()
            .filter_map(|(chunk_id, score)| self.load_hit(chunk_id, score, &words).transpose())
            .collect()
    }

    /// The chunks a model with `budget_tokens` of context should see for `question`, in document order.
    pub fn retrieve(
        &mut self,
        embedder: &Embedder,
        question: &str,
        budget_tokens: usize,
        counter: &dyn TokenCounter,
    ) -> Result<Vec<SearchHit>, DocsError> {
        let hits = self.search(embedder, question, CANDIDATES_PER_RANKING, SearchMode::Hybrid)?;
        Ok(select_for_budget(&hits, budget_tokens, counter))
    }

    fn bm25_ranking(&self, query: &str, depth: usize) -> Result<Vec<i64>, DocsError> {
        let words = query_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // Quoting every word keeps FTS5 from reading user text as query syntax.
        let expression = words.iter().map(|word| format!("\"{word}\"")).collect::<Vec<_>>().join(" OR ");
        let mut statement = self
            .connection
            .prepare_cached("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?2")?;
        let ids = statement.query_map(rusqlite::params![expression, depth as i64], |row| row.get(0))?;
        Ok(ids.collect::<Result<Vec<i64>, _>>()?)
    }

    fn vector_ranking(&mut self, query_vector: &[f32], depth: usize) -> Result<Vec<i64>, DocsError> {
        let index = self.vector_index()?;
        if index.chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        if index.dimension != query_vector.len() {
            return Err(DocsError::DimensionMismatch { stored: index.dimension, model: query_vector.len() });
        }
        let mut scored: Vec<(f32, i64)> = index
            .values
            .chunks_exact(index.dimension)
            .zip(&index.chunk_ids)
            .map(|(vector, id)| (vector.iter().zip(query_vector).map(|(a, b)| a * b).sum(), *id))
            .collect();
        let depth = depth.min(scored.len());
        scored.select_nth_unstable_by(depth - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(depth);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().map(|(_, id)| id).collect())
    }

    fn load_hit(&self, chunk_id: i64, score: f64, query_words: &[String]) -> Result<Option<SearchHit>, DocsError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT c.ordinal, c.text, c.section, c.page_start, c.page_end, c.char_start, c.char_end, c.token_count, d.id, d.path, d.title
             FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?1",
        )?;
        let hit = statement
            .query_row([chunk_id], |row| {
                let text: String = row.get(1)?;
                let section: Option<String> = row.get(2)?;
                let snippet = snippet(chunk_body(&text, section.as_deref()), query_words);
                Ok(SearchHit {
                    chunk_id,
                    ordinal: row.get::<_, i64>(0)? as usize,
                    score,
                    token_count: row.get::<_, i64>(7)? as usize,
                    citation: Citation {
                        document_id: row.get(8)?,
                        path: row.get(9)?,
                        title: row.get(10)?,
                        page_start: row.get(3)?,
                        page_end: row.get(4)?,
                        section,
                        char_start: row.get::<_, i64>(5)? as usize,
                        char_end: row.get::<_, i64>(6)? as usize,
                        snippet,
                    },
                    text,
                })
            })
            .optional()?;
        Ok(hit)
    }
}

/// Picks hits best-first while they fit `budget_tokens` (counted with `counter`), skipping
/// duplicates and chunks already covered by a chosen one, and returns them in document order.
pub fn select_for_budget(hits: &[SearchHit], budget_tokens: usize, counter: &dyn TokenCounter) -> Vec<SearchHit> {
    let mut chosen: Vec<SearchHit> = Vec::new();
    let mut seen_texts: HashSet<&str> = HashSet::new();
    let mut used = 0;
    for hit in hits {
        let covered = chosen.iter().any(|kept| {
            kept.chunk_id == hit.chunk_id
                || (kept.citation.document_id == hit.citation.document_id
                    && kept.citation.char_start <= hit.citation.char_start
                    && hit.citation.char_end <= kept.citation.char_end)
        });
        if covered || !seen_texts.insert(hit.text.as_str()) {
            continue;
        }
        let tokens = counter.count_tokens(&hit.text);
        if used + tokens <= budget_tokens {
            used += tokens;
            chosen.push(hit.clone());
        }
    }
    chosen.sort_by(|a, b| {
        (a.citation.path.as_str(), a.citation.char_start).cmp(&(b.citation.path.as_str(), b.citation.char_start))
    });
    chosen
}

/// Lowercased query words worth matching, stopwords dropped, in first-seen order.
fn query_words(query: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    query
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|word| !word.is_empty() && !STOPWORDS.contains(&word.as_str()))
        .filter(|word| seen.insert(word.clone()))
        .collect()
}

/// The chunk text without its heading line.
fn chunk_body<'a>(text: &'a str, section: Option<&str>) -> &'a str {
    section
        .and_then(|section| text.strip_prefix(section))
        .and_then(|rest| rest.strip_prefix('\n'))
        .unwrap_or(text)
}

/// About SNIPPET_CHARS characters of `body`, starting a little before the first query word.
fn snippet(body: &str, query_words: &[String]) -> String {
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
        snippet.insert_str(0, "…");
    }
    if start_char + SNIPPET_CHARS < total_chars {
        snippet.push('…');
    }
    snippet
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::WordTokenEstimate;

    fn hit(chunk_id: i64, path: &str, char_start: usize, char_end: usize, words: usize) -> SearchHit {
        SearchHit {
            chunk_id,
            ordinal: 0,
            score: 1.0 / chunk_id as f64,
            text: format!("chunk{chunk_id} {}", "word ".repeat(words.saturating_sub(1))),
            token_count: words,
            citation: Citation {
                document_id: path.len() as i64,
                path: path.to_string(),
                title: path.to_string(),
                page_start: None,
                page_end: None,
                section: None,
                char_start,
                char_end,
                snippet: String::new(),
            },
        }
    }

    #[test]
    fn budget_selection_is_best_first_deduplicated_and_in_document_order() {
        let hits = vec![
            hit(1, "b.txt", 500, 900, 100), // 130 estimated tokens
            hit(2, "a.txt", 0, 300, 200),   // 260: does not fit after the first
            hit(1, "b.txt", 500, 900, 100), // the same chunk again
            hit(3, "b.txt", 10, 400, 50),   // 65
            hit(4, "b.txt", 600, 800, 10),  // inside chunk 1
        ];
        let chosen = select_for_budget(&hits, 300, &WordTokenEstimate);
        let ids: Vec<i64> = chosen.iter().map(|hit| hit.chunk_id).collect();
        assert_eq!(ids, vec![3, 1]);
    }

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
    }
}
