//! Hybrid retrieval: FTS5 BM25 and embedding similarity, fused by their scaled scores.

use std::collections::HashMap;

use automix_types::SourceLocation;
use rusqlite::OptionalExtension;
use serde::{Deserialize, Serialize};

use crate::chunk::TokenCounter;
use crate::embed::Embedder;
use crate::error::DocsError;
use crate::hit::{Citation, SearchHit};
use crate::pack::select_for_budget;
use crate::store::Library;
use crate::text::{chunk_body, query_words, snippet};

const BM25_WEIGHT: f64 = 1.0;
/// MiniLM alone ranks keyword-heavy questions worse than BM25 (SQuAD recall@1 0.56 against 0.79),
/// yet helps on multi-hop ones; 0.3 was best of 0.2–0.8 on both (docs/evaluation-retrieval.md).
/// Reciprocal-rank fusion was tried first: it flattens BM25's clear wins, so even a small vector
/// vote reordered the top (SQuAD recall@1 0.72 against 0.78 fused by score).
const VECTOR_WEIGHT: f64 = 0.3;
/// How deep each ranking is read before fusing.
const CANDIDATES_PER_RANKING: usize = 50;
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
                hits.retain(|hit| chosen.contains(&hit.citation.location.document_id));
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
                    (SELECT label FROM pages p WHERE p.document_id = d.id AND p.number = c.page_end),
                    (SELECT MIN(ocr_confidence) FROM pages p WHERE p.document_id = d.id AND p.number BETWEEN c.page_start AND c.page_end)
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
                        location: SourceLocation {
                            document_id: row.get(8)?,
                            path: row.get(9)?,
                            title: row.get(10)?,
                            page_start: row.get(3)?,
                            page_end: row.get(4)?,
                            page_label_start: row.get(11)?,
                            page_label_end: row.get(12)?,
                            ocr_confidence: row.get::<_, Option<f64>>(13)?.map(|confidence| confidence.clamp(0.0, 100.0).round() as u8),
                            section,
                            char_start: row.get::<_, i64>(5)? as usize,
                            char_end: row.get::<_, i64>(6)? as usize,
                        },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_product_matches_the_plain_sum_for_any_length() {
        for length in [0, 1, 7, 8, 9, 384, 389] {
            let a: Vec<f32> = (0..length).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..length).map(|i| (i as f32 * 0.11).cos()).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - plain).abs() < 1e-4, "length {length}");
        }
    }
}
