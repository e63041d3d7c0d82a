//! A retrieved chunk ([`SearchHit`]) and where it came from ([`Citation`]).

use automix_types::SourceLocation;
use serde::{Deserialize, Serialize};

/// Where a chunk came from, for showing and checking a source: its place in the document and an
/// excerpt. On the wire the location's fields sit beside `snippet`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct Citation {
    #[serde(flatten)]
    #[cfg_attr(feature = "typescript", ts(flatten))]
    pub location: SourceLocation,
    /// A short excerpt around the first query word found, for display.
    pub snippet: String,
}

impl std::fmt::Display for Citation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.location.fmt(f)
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
