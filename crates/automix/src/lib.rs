//! The AutoMix engine: retrieve → answer locally → self-verify → route → (escalate) → record.
//!
//! Each domain is its own crate; this crate gathers them under one name for the CLI and the desktop app.

pub use automix_llm as llm;
pub use automix_models as models;

pub mod prompts;
