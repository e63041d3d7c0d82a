//! The AutoMix engine: retrieve → answer locally → self-verify → route → (escalate) → record.
//!
//! Each domain is its own crate; this crate gathers them under one name for the CLI and the desktop app.

pub use automix_budget as budget;
pub use automix_docs as docs;
pub use automix_history as history;
pub use automix_llm as llm;
pub use automix_models as models;
pub use automix_qa as qa;
pub use automix_remote as remote;
pub use automix_router as router;
pub use automix_types as types;

pub mod answer_checks;
pub mod assistant;
pub mod calibrate;

pub mod collect;
pub mod downloads;
pub mod machine;
pub mod prompts;
pub mod settings;
pub mod speed;
pub mod verify;
