//! Hybrid retrieval: FTS5 BM25 and embedding similarity, fused by their scaled scores.

use std::collections::{HashMap, HashSet};

use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::chunk::TokenCounter;
use crate::embed::Embedder;
use crate::pack::select_for_budget;
use crate::segment::query_terms;
use crate::store::Library;
use crate::DocsError;

const BM25_WEIGHT: f64 = 1.0;
/// MiniLM alone ranks keyword-heavy questions worse than BM25 (SQuAD recall@1 0.56 against 0.79),
/// yet helps on multi-hop ones; 0.3 was best of 0.2–0.8 on both (docs/evaluation-retrieval.md).
/// Reciprocal-rank fusion was tried first: it flattens BM25's clear wins, so even a small vector
/// vote reordered the top (SQuAD recall@1 0.72 against 0.78 fused by score).
const VECTOR_WEIGHT: f64 = 0.3;
/// How deep each ranking is read before fusing.
const CANDIDATES_PER_RANKING: usize = 50;
/// Snippet length shown with a citation, in characters.
const SNIPPET_CHARS: usize = 240;
/// Common English words that only slow BM25 down.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had", "has", "have", "how", "in", "is", "it", "its", "of", "on",
    "or", "that", "the", "this", "to", "was", "were", "what", "when", "where", "which", "who", "whom", "why", "with",
];

/// Which rankings a search uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// BM25 and vector similarity fused by their scaled scores.
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
    /// Physical page numbers (1-based), as a PDF viewer counts them.
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    /// The page labels printed on those pages ("xii", "19"), where the document defines labels
    /// that differ from the physical numbers.
    #[serde(default)]
    pub page_label_start: Option<String>,
    #[serde(default)]
    pub page_label_end: Option<String>,
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
        if let Some(pages) = self.pages() {
            write!(f, ", {pages}")?;
        }
        if let Some(section) = &self.section {
            write!(f, ", § {section}")?;
        }
        write!(f, " ({}, chars {}–{})", self.path, self.char_start, self.char_end)
    }
}

impl Citation {
    /// "p. 19 (PDF page 26)", "pp. 3–4": the pages as printed, with the physical page numbers
    /// where the printed labels differ from them; None for formats without pages.
    pub fn pages(&self) -> Option<String> {
        let start = self.page_start?;
        let end = self.page_end.unwrap_or(start).max(start);
        let (prefix, physical) = if end > start { ("pp.", format!("{start}–{end}")) } else { ("p.", start.to_string()) };
        if self.page_label_start.is_none() && self.page_label_end.is_none() {
            return Some(format!("{prefix} {physical}"));
        }
        let label = |label: &Option<String>, page: u32| label.clone().unwrap_or_else(|| page.to_string());
        let printed = if end > start {
            format!("{}–{}", label(&self.page_label_start, start), label(&self.page_label_end, end))
        } else {
            label(&self.page_label_start, start)
        };
        let pdf_pages = if end > start { "PDF pages" } else { "PDF page" };
        Some(format!("{prefix} {printed} ({pdf_pages} {physical})"))
    }
}

/// One retrieved chunk with its score and citation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub chunk_id: i64,
    /// Position of the chunk inside its document.
    pub ordinal: usize,
    /// Fused score: the weighed sum of each ranking's score scaled to 0..1; higher is better. It
    /// orders the hits of one question only.
    pub score: f64,
    /// Cosine similarity of the chunk to the question, where the vector ranking scored it: unlike
    /// `score`, comparable across questions (how well the library covers this one).
    #[serde(default)]
    pub similarity: Option<f64>,
    /// The chunk text as it goes into a prompt (heading line first).
    pub text: String,
    /// Tokens of the embedder's tokenizer; after [`select_for_budget`](crate::select_for_budget),
    /// of the tokenizer that packed the context.
    pub token_count: usize,
    pub citation: Citation,
}

impl Library {
    /// The best `limit` chunks for `query`, best first.
    pub fn search(&mut self, embedder: &Embedder, query: &str, limit: usize, mode: SearchMode) -> Result<Vec<SearchHit>, DocsError> {
        let depth = CANDIDATES_PER_RANKING.max(limit);
        let mut rankings = Vec::new();
        // The question is embedded on another thread while SQLite runs BM25.
        let query_vector = std::thread::scope(|scope| -> Result<Option<Vec<f32>>, DocsError> {
            let embedding = (mode != SearchMode::Bm25).then(|| scope.spawn(|| embedder.embed_one(query)));
            if mode != SearchMode::Vector {
                rankings.push((BM25_WEIGHT, self.bm25_ranking(query, depth)?));
            }
            match embedding.map(|thread| thread.join()) {
                Some(Ok(vector)) => Ok(Some(vector?)),
                Some(Err(panic)) => std::panic::resume_unwind(panic),
                None => Ok(None),
            }
        })?;
        let mut similarities: HashMap<i64, f64> = HashMap::new();
        if let Some(query_vector) = query_vector {
            let ranking = self.vector_ranking(&query_vector, depth)?;
            similarities.extend(ranking.iter().copied());
            rankings.push((VECTOR_WEIGHT, ranking));
        }
        // Each ranking's scores are scaled to 0..1 over its own candidates, then weighed and
        // summed; a chunk missing from a ranking gets 0 there.
        let mut fused: HashMap<i64, f64> = HashMap::new();
        for (weight, ranking) in &rankings {
            let max = ranking.iter().map(|(_, score)| *score).fold(f64::MIN, f64::max);
            let min = ranking.iter().map(|(_, score)| *score).fold(f64::MAX, f64::min);
            for (chunk_id, score) in ranking {
                let scaled = if max > min { (score - min) / (max - min) } else { 1.0 };
                *fused.entry(*chunk_id).or_default() += weight * scaled;
            }
        }
        let mut ordered: Vec<(i64, f64)> = fused.into_iter().collect();
        ordered.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ordered.truncate(limit);
        let words = query_words(query);
        ordered.into_iter().filter_map(|(chunk_id, score)| self.load_hit(chunk_id, score, similarities.get(&chunk_id).copied(), &words).transpose()).collect()
    }

    /// The chunks a model with `budget_tokens` of context should see for `question`, in document order.
    pub fn retrieve(&mut self, embedder: &Embedder, question: &str, budget_tokens: usize, counter: &dyn TokenCounter) -> Result<Vec<SearchHit>, DocsError> {
        self.retrieve_from(embedder, question, budget_tokens, counter, None)
    }

    /// [`Library::retrieve`] restricted to the given documents (`None`: the whole library).
    pub fn retrieve_from(
        &mut self,
        embedder: &Embedder,
        question: &str,
        budget_tokens: usize,
        counter: &dyn TokenCounter,
        documents: Option<&[i64]>,
    ) -> Result<Vec<SearchHit>, DocsError> {
        let hits = match documents {
            None => self.search(embedder, question, CANDIDATES_PER_RANKING, SearchMode::Hybrid)?,
            Some(chosen) => {
                // Rank deeper so the chosen documents still get their best chunks when other
                // documents outrank them.
                let mut hits = self.search(embedder, question, CANDIDATES_PER_RANKING * 10, SearchMode::Hybrid)?;
                hits.retain(|hit| chosen.contains(&hit.citation.document_id));
                hits.truncate(CANDIDATES_PER_RANKING);
                hits
            }
        };
        Ok(select_for_budget(&hits, question, budget_tokens, counter))
    }

    fn bm25_ranking(&self, query: &str, depth: usize) -> Result<Vec<(i64, f64)>, DocsError> {
        let words = query_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        // Quoting every word keeps FTS5 from reading user text as query syntax.
        let expression = words.iter().map(|word| format!("\"{word}\"")).collect::<Vec<_>>().join(" OR ");
        let mut statement = self.connection.prepare_cached("SELECT rowid, -rank FROM chunks_fts WHERE chunks_fts MATCH ?1 ORDER BY rank LIMIT ?2")?;
        let ids = statement.query_map(rusqlite::params![expression, depth as i64], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(ids.collect::<Result<Vec<_>, _>>()?)
    }

    fn vector_ranking(&mut self, query_vector: &[f32], depth: usize) -> Result<Vec<(i64, f64)>, DocsError> {
        let index = self.vector_index()?;
        if index.chunk_ids.is_empty() {
            return Ok(Vec::new());
        }
        if index.dimension != query_vector.len() {
            return Err(DocsError::DimensionMismatch { stored: index.dimension, model: query_vector.len() });
        }
        let mut scored: Vec<(f32, i64)> =
            index.values.chunks_exact(index.dimension).zip(&index.chunk_ids).map(|(vector, id)| (dot(vector, query_vector), *id)).collect();
        let depth = depth.min(scored.len());
        scored.select_nth_unstable_by(depth - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(depth);
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(scored.into_iter().map(|(score, id)| (id, f64::from(score))).collect())
    }

    fn load_hit(&self, chunk_id: i64, score: f64, similarity: Option<f64>, query_words: &[String]) -> Result<Option<SearchHit>, DocsError> {
        let mut statement = self.connection.prepare_cached(
            "SELECT c.ordinal, c.text, c.section, c.page_start, c.page_end, c.char_start, c.char_end, c.token_count, d.id, d.path, d.title,
                    (SELECT label FROM pages p WHERE p.document_id = d.id AND p.number = c.page_start),
                    (SELECT label FROM pages p WHERE p.document_id = d.id AND p.number = c.page_end)
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
                    similarity,
                    token_count: row.get::<_, i64>(7)? as usize,
                    citation: Citation {
                        document_id: row.get(8)?,
                        path: row.get(9)?,
                        title: row.get(10)?,
                        page_start: row.get(3)?,
                        page_end: row.get(4)?,
                        page_label_start: row.get(11)?,
                        page_label_end: row.get(12)?,
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

/// Dot product in eight independent lanes: a plain sequential float sum cannot be vectorised
/// (its rounding order is fixed), and this scan over every chunk vector runs on each query.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 8;
    let mut lanes = [0f32; LANES];
    let (a_blocks, b_blocks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_blocks.remainder().iter().zip(b_blocks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_blocks.zip(b_blocks) {
        for lane in 0..LANES {
            lanes[lane] += x[lane] * y[lane];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

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
    fn citations_name_printed_page_labels_next_to_physical_pages() {
        let citation = |start, end, label_start: Option<&str>, label_end: Option<&str>| Citation {
            document_id: 1,
            path: "/a.pdf".into(),
            title: "A".into(),
            page_start: start,
            page_end: end,
            page_label_start: label_start.map(str::to_string),
            page_label_end: label_end.map(str::to_string),
            section: None,
            char_start: 0,
            char_end: 1,
            snippet: String::new(),
        };
        assert_eq!(citation(Some(26), Some(26), Some("19"), Some("19")).pages().as_deref(), Some("p. 19 (PDF page 26)"));
        assert_eq!(citation(Some(3), Some(4), Some("iii"), Some("iv")).pages().as_deref(), Some("pp. iii–iv (PDF pages 3–4)"));
        assert_eq!(citation(Some(5), Some(5), None, None).pages().as_deref(), Some("p. 5"));
        assert_eq!(citation(Some(5), Some(6), None, None).pages().as_deref(), Some("pp. 5–6"));
        assert_eq!(citation(None, None, None, None).pages(), None);
        assert_eq!(citation(Some(26), Some(26), Some("19"), Some("19")).to_string(), "A, p. 19 (PDF page 26) (/a.pdf, chars 0–1)");
    }

    #[test]
    fn dot_product_matches_the_plain_sum_for_any_length() {
        for length in [0, 1, 7, 8, 9, 384, 389] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {length}");
        }
    }

    #[test]
    fn query_words_drop_stopwords_and_fts_syntax() {
        assert_eq!(query_words("What is the \"NEAR\" OR-clause of C++?"), vec!["near", "clause", "c"]);
        assert_eq!(query_words("東京都の人口は？"), vec!["東京", "京都", "都の", "の人", "人口", "口は"]);
    }
}
