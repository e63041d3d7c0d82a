//! Remote escalation for AutoMix: the OpenAI-compatible chat client, the escalation payload
//! (exactly what leaves the machine), model prices and API-key storage.

mod client;
mod key;
mod pricing;
mod settings;
mod sse;

pub use automix_types::{
    estimate_tokens, ChatMessage, Cost, EscalationPayload, ModelPrice, NetworkPurpose, NetworkRequest, PayloadChunk, Usage, QUESTION_MARKER,
};
pub use client::{BlockingRemoteClient, CancelFlag, RemoteAnswer, RemoteClient, RemoteError, RetryNote};
pub use key::{ApiKey, KeyLocation, KeyStore, KeyStoreError};
pub use pricing::{PriceTable, PricingError, BUNDLED_PRICING};
pub use settings::{EndpointError, RemoteSettings};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_prices_parse_and_cover_common_models() {
        let table = PriceTable::bundled();
        for model in [
            "gpt-4o",
            "gpt-4o-mini",
            "gpt-4.1",
            "gpt-4.1-mini",
            "anthropic/claude-3.5-sonnet",
            "llama-3.1-70b-versatile",
            "meta-llama/Meta-Llama-3.1-70B-Instruct-Turbo",
            "llama3.1:8b",
        ] {
            assert!(table.get(model).is_some(), "{model} missing from models/pricing.toml");
        }
    }

    #[test]
    fn user_override_replaces_bundled_price() {
        let mut table = PriceTable::bundled();
        let overrides =
            PriceTable::parse("[models.\"gpt-4o\"]\ninput_per_million = 1.0\noutput_per_million = 4.0\n", std::path::Path::new("user.toml")).unwrap();
        table.apply_override(overrides);
        assert_eq!(table.get("gpt-4o").unwrap().input_per_million, 1.0);
        let negative = PriceTable::parse("[models.x]\ninput_per_million = -1.0\noutput_per_million = 1.0\n", std::path::Path::new("user.toml"));
        assert!(matches!(negative, Err(PricingError::InvalidPrice { .. })));
    }

    #[test]
    fn cost_of_a_call_rounds_up_and_is_exact_in_nanos() {
        let price = ModelPrice { input_per_million: 0.15, output_per_million: 0.60 };
        // 1000 * 0.15e-6 + 500 * 0.6e-6 = 0.00045 dollars
        assert_eq!(price.cost(1000, 500), Cost::from_nanos(450_000));
        assert_eq!(Cost::from_units(0.00045).nanos, 450_000);
    }

    #[test]
    fn payload_upper_bound_is_at_least_the_estimate() {
        let payload = EscalationPayload {
            system_prompt: "Answer from the context.".into(),
            question: "Who wrote it?".into(),
            chunks: vec![PayloadChunk { source: "a.txt".into(), text: "Ünïcödé text written by Ada.".into() }],
            earlier_turns: Vec::new(),
        };
        let estimate: u64 = payload.to_messages().iter().map(|m| estimate_tokens(&m.content)).sum();
        assert!(payload.prompt_tokens_upper_bound() > estimate);
        assert!(payload.to_messages()[1].content.ends_with("Question: Who wrote it?"));
    }
}
