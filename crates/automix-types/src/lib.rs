//! AutoMix's shared value types, the floor every other crate may stand on: money and prices, token
//! usage, exactly what an escalation sends, where a cited passage comes from, what the router
//! decided, and what went over the network.

mod citation;
mod cost;
mod decision;
mod error_code;
mod escalation;
mod network;
mod time;

pub use citation::SourceLocation;
pub use cost::{Cost, ModelPrice};
pub use decision::RouteDecision;
pub use error_code::ErrorCode;
pub use escalation::{estimate_tokens, ChatMessage, EscalationPayload, PayloadChunk, Usage, QUESTION_MARKER};
pub use network::{NetworkPurpose, NetworkRequest};
pub use time::utc_timestamp;
