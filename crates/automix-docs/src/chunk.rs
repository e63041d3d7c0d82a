//! Token-aware chunking on paragraph and sentence boundaries, headings carried into each chunk.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::extract::ExtractedDocument;
use crate::segment::{sentence_ranges, word_ranges};

/// Counts tokens the way some model will see them.
pub trait TokenCounter {
    /// Number of tokens in `text`, without special tokens.
    fn count_tokens(&self, text: &str) -> usize;
}

/// A chat model counts with its own tokenizer: what its context budget is measured in.
impl TokenCounter for automix_llm::LocalModel {
    fn count_tokens(&self, text: &str) -> usize {
        // Encoding only fails on a broken tokenizer, which loading already rejects; a rough
        // estimate keeps packing going all the same.
        automix_llm::LocalModel::count_tokens(self, text).unwrap_or(text.len() / 3)
    }
}

/// Estimates 1.3 tokens per whitespace-separated word, for when no tokenizer is at hand.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordTokenEstimate;

impl TokenCounter for WordTokenEstimate {
    fn count_tokens(&self, text: &str) -> usize {
        (text.split_whitespace().count() as f64 * 1.3).ceil() as usize
    }
}

/// Chunk size limits, in tokens of the embedder's tokenizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkingConfig {
    /// Upper bound for a chunk including its heading line; MiniLM reads at most 256 tokens.
    pub max_tokens: usize,
    /// How much of the previous chunk is repeated when a paragraph is split across chunks.
    pub overlap_tokens: usize,
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        ChunkingConfig { max_tokens: 250, overlap_tokens: 40 }
    }
}

/// A piece of a document ready to be embedded and cited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chunk {
    /// The heading path (if any) on the first line, then the body text.
    pub text: String,
    /// Heading path such as "Install > Linux", when the document has headings.
    pub section: Option<String>,
    pub page_start: Option<u32>,
    pub page_end: Option<u32>,
    /// Character (not byte) range of the body inside the extracted document text.
    pub char_start: usize,
    pub char_end: usize,
    pub token_count: usize,
}

/// A sentence or word window with its byte range in the document text.
#[derive(Debug, Clone)]
struct Piece {
    range: Range<usize>,
    page: Option<u32>,
    tokens: usize,
    starts_paragraph: bool,
}

/// Splits a document into chunks of at most `config.max_tokens` tokens.
pub fn chunk_document(document: &ExtractedDocument, config: &ChunkingConfig, counter: &dyn TokenCounter) -> Vec<Chunk> {
    let mut chunker = Chunker {
        document,
        config,
        counter,
        headings: Vec::new(),
        section: None,
        section_tokens: 0,
        pending: Vec::new(),
        pending_tokens: 0,
        chunks: Vec::new(),
        offsets: CharOffsets::default(),
    };
    for block in &document.blocks {
        let text = document.block_text(block);
        match block.heading_level {
            Some(level) => {
                chunker.emit();
                chunker.enter_heading(level, text);
            }
            None => chunker.add_paragraph(block.byte_range.clone(), block.page),
        }
    }
    chunker.emit();
    chunker.chunks
}

struct Chunker<'a> {
    document: &'a ExtractedDocument,
    config: &'a ChunkingConfig,
    counter: &'a dyn TokenCounter,
    headings: Vec<(u8, String)>,
    section: Option<String>,
    section_tokens: usize,
    pending: Vec<Piece>,
    pending_tokens: usize,
    chunks: Vec<Chunk>,
    offsets: CharOffsets,
}

impl Chunker<'_> {
    fn enter_heading(&mut self, level: u8, text: &str) {
        self.headings.retain(|(outer, _)| *outer < level);
        self.headings.push((level, text.to_string()));
        let path = self.headings.iter().map(|(_, heading)| heading.as_str()).collect::<Vec<_>>().join(" > ");
        self.section_tokens = self.counter.count_tokens(&path) + 1;
        self.section = Some(path);
    }

    /// Room for body text once the heading line is in.
    fn body_limit(&self) -> usize {
        self.config.max_tokens.saturating_sub(self.section_tokens).max(16)
    }

    fn add_paragraph(&mut self, range: Range<usize>, page: Option<u32>) {
        let pieces = self.split_paragraph(range, page);
        let paragraph_tokens: usize = pieces.iter().map(|piece| piece.tokens).sum();
        let limit = self.body_limit();
        // Keep paragraphs whole when the current chunk is already reasonably full.
        if self.pending_tokens + paragraph_tokens > limit && self.pending_tokens >= limit / 2 {
            self.emit();
        }
        for piece in pieces {
            if !self.pending.is_empty() && self.pending_tokens + piece.tokens > limit {
                let carried = if piece.starts_paragraph { Vec::new() } else { self.overlap_tail(limit.saturating_sub(piece.tokens)) };
                self.emit();
                self.pending_tokens = carried.iter().map(|carried| carried.tokens).sum();
                self.pending = carried;
            }
            self.pending_tokens += piece.tokens;
            self.pending.push(piece);
        }
    }

    /// The trailing pieces of the pending chunk that fit both the overlap and `room`.
    fn overlap_tail(&self, room: usize) -> Vec<Piece> {
        let allowance = self.config.overlap_tokens.min(room);
        let mut taken = 0;
        let mut tail = Vec::new();
        for piece in self.pending.iter().rev() {
            if taken + piece.tokens > allowance || tail.len() + 1 >= self.pending.len() {
                break;
            }
            taken += piece.tokens;
            tail.push(Piece { starts_paragraph: false, ..piece.clone() });
        }
        tail.reverse();
        tail
    }

    fn split_paragraph(&self, range: Range<usize>, page: Option<u32>) -> Vec<Piece> {
        let limit = self.body_limit();
        let mut pieces = Vec::new();
        for sentence in sentence_ranges(&self.document.text, range) {
            let tokens = self.counter.count_tokens(&self.document.text[sentence.clone()]);
            if tokens <= limit {
                pieces.push(Piece { range: sentence, page, tokens, starts_paragraph: false });
            } else {
                pieces.extend(self.word_windows(sentence, page, limit));
            }
        }
        if let Some(first) = pieces.first_mut() {
            first.starts_paragraph = true;
        }
        pieces
    }

    /// Cuts a sentence longer than a chunk into windows of whole words.
    fn word_windows(&self, sentence: Range<usize>, page: Option<u32>, limit: usize) -> Vec<Piece> {
        let text = &self.document.text;
        let mut windows = Vec::new();
        let mut window_start = None;
        let mut window_end = sentence.start;
        let mut window_tokens = 0;
        for word in word_ranges(text, sentence) {
            let tokens = self.counter.count_tokens(&text[word.clone()]);
            if let Some(start) = window_start {
                if window_tokens + tokens > limit {
                    windows.push(Piece { range: start..window_end, page, tokens: window_tokens, starts_paragraph: false });
                    window_start = None;
                    window_tokens = 0;
                }
            }
            window_start.get_or_insert(word.start);
            window_end = word.end;
            window_tokens += tokens;
        }
        if let Some(start) = window_start {
            windows.push(Piece { range: start..window_end, page, tokens: window_tokens, starts_paragraph: false });
        }
        windows
    }

    fn emit(&mut self) {
        let (Some(first), Some(last)) = (self.pending.first(), self.pending.last()) else {
            return;
        };
        let body = &self.document.text[first.range.start..last.range.end];
        let text = match &self.section {
            Some(section) => format!("{section}\n{body}"),
            None => body.to_string(),
        };
        let token_count = self.counter.count_tokens(&text);
        self.chunks.push(Chunk {
            section: self.section.clone(),
            page_start: first.page,
            page_end: last.page,
            char_start: self.offsets.char_index(&self.document.text, first.range.start),
            char_end: self.offsets.char_index(&self.document.text, last.range.end),
            token_count,
            text,
        });
        self.pending.clear();
        self.pending_tokens = 0;
    }
}

/// Converts byte offsets to character offsets, walking from the last answer.
#[derive(Default)]
pub(crate) struct CharOffsets {
    byte: usize,
    char: usize,
}

impl CharOffsets {
    pub(crate) fn char_index(&mut self, text: &str, byte: usize) -> usize {
        if byte >= self.byte {
            self.char += text[self.byte..byte].chars().count();
        } else {
            self.char -= text[byte..self.byte].chars().count();
        }
        self.byte = byte;
        self.char
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{Block, DocumentFormat};

    fn document(blocks: &[(Option<u8>, &str)]) -> ExtractedDocument {
        let mut text = String::new();
        let mut parsed = Vec::new();
        for (heading_level, block) in blocks {
            if !text.is_empty() {
                text.push_str("\n\n");
            }
            let start = text.len();
            text.push_str(block);
            parsed.push(Block { heading_level: *heading_level, page: Some(1), page_label: None, byte_range: start..text.len(), ocr_confidence: None });
        }
        ExtractedDocument { title: "t".into(), format: DocumentFormat::Text, text, blocks: parsed }
    }

    #[test]
    fn chunks_respect_the_token_limit_and_carry_headings() {
        let long = "The quick brown fox jumps over the lazy dog. ".repeat(40);
        let doc = document(&[(Some(1), "Guide"), (Some(2), "Setup"), (None, long.trim()), (None, "Short closing note.")]);
        let config = ChunkingConfig { max_tokens: 60, overlap_tokens: 15 };
        let chunks = chunk_document(&doc, &config, &WordTokenEstimate);
        assert!(chunks.len() > 3, "expected the long paragraph to be split, got {}", chunks.len());
        for chunk in &chunks {
            assert!(chunk.token_count <= 60, "chunk of {} tokens", chunk.token_count);
            assert!(chunk.text.starts_with("Guide > Setup\n"), "{}", chunk.text);
            assert_eq!(chunk.section.as_deref(), Some("Guide > Setup"));
            let body: String = doc.text.chars().skip(chunk.char_start).take(chunk.char_end - chunk.char_start).collect();
            assert!(chunk.text.ends_with(&body));
        }
        // Split paragraphs overlap: each chunk starts inside the previous one.
        assert!(chunks[1].char_start < chunks[0].char_end);
    }

    #[test]
    fn char_offsets_count_characters_not_bytes() {
        let doc = document(&[(None, "Ünïcödé façade."), (None, "Zweiter Absatz über Straße.")]);
        let chunks = chunk_document(&doc, &ChunkingConfig::default(), &WordTokenEstimate);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0].char_start, 0);
        assert_eq!(chunks[0].char_end, doc.text.chars().count());
    }
}
