//! The user's remote-model settings and the rule that keys only travel over HTTPS.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use url::{Host, Url};

use automix_types::ModelPrice;

use crate::pricing::{PriceTable, PricingError};

/// Where and how to reach the remote model; stored in the app settings (holds no secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteSettings {
    /// Base URL of the OpenAI-compatible API, up to and including `/v1`
    /// (e.g. `https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    pub endpoint: String,
    /// Model id as the provider names it (e.g. `gpt-4o-mini`).
    pub model: String,
    /// Price override; when absent the pricing table decides.
    #[serde(default)]
    pub price: Option<ModelPrice>,
    /// How long to wait for a TCP/TLS connection.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// How long to wait for the response to start and between streamed chunks.
    #[serde(default = "default_read_timeout_ms")]
    pub read_timeout_ms: u64,
    /// Attempts in total, including the first (connect errors, 429 and 5xx are retried).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// First backoff delay; doubles each retry, with jitter.
    #[serde(default = "default_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// A `Retry-After` longer than this ends the retries instead of waiting.
    #[serde(default = "default_max_retry_after_ms")]
    pub max_retry_after_ms: u64,
}

fn default_connect_timeout_ms() -> u64 {
    10_000
}
fn default_read_timeout_ms() -> u64 {
    60_000
}
fn default_max_attempts() -> u32 {
    4
}
fn default_backoff_base_ms() -> u64 {
    500
}
fn default_max_retry_after_ms() -> u64 {
    30_000
}

/// Why an endpoint is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    /// The endpoint is not a URL.
    #[error("remote endpoint `{endpoint}` is not a valid URL ({reason}); expected e.g. https://api.openai.com/v1")]
    Invalid { endpoint: String, reason: String },
    /// Plain HTTP to a host that is not this machine would expose the API key and the question.
    #[error("refusing plain http:// for `{endpoint}`: the API key and your question would travel unencrypted; use https:// (plain http is allowed only for localhost, 127.0.0.0/8 and ::1)")]
    InsecureEndpoint { endpoint: String },
}

impl RemoteSettings {
    /// Settings with default timeouts and retries.
    pub fn new(endpoint: impl Into<String>, model: impl Into<String>) -> Self {
        RemoteSettings {
            endpoint: endpoint.into(),
            model: model.into(),
            price: None,
            connect_timeout_ms: default_connect_timeout_ms(),
            read_timeout_ms: default_read_timeout_ms(),
            max_attempts: default_max_attempts(),
            backoff_base_ms: default_backoff_base_ms(),
            max_retry_after_ms: default_max_retry_after_ms(),
        }
    }

    /// The chat-completions URL, after checking that the endpoint is HTTPS or loopback.
    pub fn chat_completions_url(&self) -> Result<Url, EndpointError> {
        let base = validated_endpoint(&self.endpoint)?;
        let joined = format!("{}/chat/completions", base.as_str().trim_end_matches('/'));
        Url::parse(&joined).map_err(|error| EndpointError::Invalid { endpoint: redacted_endpoint(&self.endpoint), reason: error.to_string() })
    }

    /// Whether the endpoint is on this machine (then an unlisted model is free).
    pub fn is_loopback(&self) -> bool {
        Url::parse(&self.endpoint).map(|url| is_loopback_host(&url)).unwrap_or(false)
    }

    /// The price to charge: the settings override, else the table, else free on loopback.
    pub fn resolve_price(&self, table: &PriceTable) -> Result<ModelPrice, PricingError> {
        if let Some(price) = self.price {
            return Ok(price);
        }
        if let Some(price) = table.get(&self.model) {
            return Ok(price);
        }
        if self.is_loopback() {
            return Ok(ModelPrice::FREE);
        }
        Err(PricingError::UnknownModel { model: self.model.clone() })
    }

    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.connect_timeout_ms)
    }

    pub(crate) fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms)
    }
}

fn validated_endpoint(endpoint: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(endpoint).map_err(|error| EndpointError::Invalid { endpoint: redacted_endpoint(endpoint), reason: error.to_string() })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&url) => Ok(url),
        "http" => Err(EndpointError::InsecureEndpoint { endpoint: redacted_endpoint(endpoint) }),
        other => Err(EndpointError::Invalid { endpoint: redacted_endpoint(endpoint), reason: format!("unsupported scheme `{other}`") }),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(address)) => IpAddr::V4(address).is_loopback(),
        Some(Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

/// The endpoint without any `user:password@` part, safe to show in errors.
fn redacted_endpoint(endpoint: &str) -> String {
    match Url::parse(endpoint) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            url.to_string()
        }
        Err(_) => match endpoint.rsplit_once('@') {
            Some((_, host)) => format!("<credentials removed>@{host}"),
            None => endpoint.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_only_allowed_for_loopback() {
        for allowed in ["http://localhost:11434/v1", "http://127.0.0.1:8080/v1", "http://[::1]:8080/v1", "https://api.openai.com/v1"] {
            assert!(RemoteSettings::new(allowed, "m").chat_completions_url().is_ok(), "{allowed}");
        }
        for refused in ["http://api.openai.com/v1", "http://192.168.1.5:8080/v1", "http://localhost.evil.com/v1", "http://[::ffff:8.8.8.8]/v1"] {
            let error = RemoteSettings::new(refused, "m").chat_completions_url().unwrap_err();
            assert!(matches!(error, EndpointError::InsecureEndpoint { .. }), "{refused}: {error}");
        }
    }

    #[test]
    fn endpoint_credentials_never_reach_error_messages() {
        let error = RemoteSettings::new("http://user:hunter2@example.com/v1", "m").chat_completions_url().unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
        let error = RemoteSettings::new("ftp://user:hunter2@example.com/v1", "m").chat_completions_url().unwrap_err();
        assert!(!format!("{error:?}").contains("hunter2"));
    }

    #[test]
    fn url_is_joined_under_the_v1_base() {
        let url = RemoteSettings::new("https://openrouter.ai/api/v1/", "m").chat_completions_url().unwrap();
        assert_eq!(url.as_str(), "https://openrouter.ai/api/v1/chat/completions");
    }

    #[test]
    fn price_falls_back_from_override_to_table_to_free_loopback() {
        let table = PriceTable::bundled();
        let mut settings = RemoteSettings::new("https://api.openai.com/v1", "gpt-4o-mini");
        assert_eq!(settings.resolve_price(&table).unwrap().input_per_million, 0.15);
        settings.price = Some(ModelPrice { input_per_million: 1.0, output_per_million: 2.0 });
        assert_eq!(settings.resolve_price(&table).unwrap().output_per_million, 2.0);
        let local = RemoteSettings::new("http://localhost:11434/v1", "my-finetune");
        assert_eq!(local.resolve_price(&table).unwrap(), ModelPrice::FREE);
        let unknown = RemoteSettings::new("https://api.example.com/v1", "mystery");
        assert!(matches!(unknown.resolve_price(&table), Err(PricingError::UnknownModel { .. })));
    }
}
