//! OpenAI's chat-completions request and response shapes, as far as this server reads and writes
//! them, and the reading of a request into one question for the engine.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::ApiError;

/// Answers locally, verifies, routes and escalates within the budget (the app's chat).
pub const MODEL_ROUTED: &str = "automix";
/// The same, but the answer never leaves this device.
pub const MODEL_LOCAL: &str = "automix-local";
/// Routed like `automix`, grounded in the document library (retrieval from the last user message).
pub const MODEL_DOCS: &str = "automix-docs";
pub const MODEL_IDS: [&str; 3] = [MODEL_ROUTED, MODEL_LOCAL, MODEL_DOCS];

/// What an offered model does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfferedModel {
    Routed,
    Local,
    Docs,
}

impl OfferedModel {
    pub fn parse(id: &str) -> Option<Self> {
        match id {
            MODEL_ROUTED => Some(OfferedModel::Routed),
            MODEL_LOCAL => Some(OfferedModel::Local),
            MODEL_DOCS => Some(OfferedModel::Docs),
            _ => None,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            OfferedModel::Routed => MODEL_ROUTED,
            OfferedModel::Local => MODEL_LOCAL,
            OfferedModel::Docs => MODEL_DOCS,
        }
    }

    pub fn local_only(self) -> bool {
        self == OfferedModel::Local
    }
}

#[derive(Debug, Deserialize)]
struct RawRequest {
    model: Option<String>,
    messages: Option<Vec<RawMessage>>,
    #[serde(default)]
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
    /// OpenAI's end-user id; used as the client's name in History when given.
    user: Option<String>,
}

#[derive(Debug, Deserialize)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

#[derive(Debug, Deserialize)]
struct RawMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

/// A message's content: a string, or (newer clients) a list of parts of which the text ones count.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Part>),
}

#[derive(Debug, Deserialize)]
struct Part {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

impl Content {
    fn text(&self) -> Result<String, ApiError> {
        match self {
            Content::Text(text) => Ok(text.clone()),
            Content::Parts(parts) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(part_text)) => {
                            if !text.is_empty() {
                                text.push('\n');
                            }
                            text.push_str(part_text);
                        }
                        (kind, _) => {
                            return Err(ApiError::invalid(
                                "unsupported_content",
                                Some("messages"),
                                format!("message parts of type `{kind}` are not supported; the local models read text only"),
                            ))
                        }
                    }
                }
                Ok(text)
            }
        }
    }
}

/// A request read and checked: the question, what it may be answered from, and how to reply.
#[derive(Debug, Clone)]
pub struct ChatRequest {
    pub model: OfferedModel,
    /// The last user message.
    pub question: String,
    /// The earlier messages (system, user and assistant), as the text the local model reads
    /// beside the question; empty when the question came alone.
    pub context: String,
    pub stream: bool,
    pub include_usage: bool,
    pub user: Option<String>,
}

impl ChatRequest {
    /// Reads a request body; every refusal names the field and what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<ChatRequest, ApiError> {
        let raw: RawRequest = serde_json::from_slice(body).map_err(|error| {
            let message = if error.is_syntax() || error.is_eof() {
                format!("We could not parse the JSON body of your request: {error}")
            } else {
                format!("The request body has a field of the wrong type: {error}")
            };
            ApiError::invalid("invalid_json", None, message)
        })?;
        let model_id = raw.model.filter(|model| !model.trim().is_empty()).ok_or_else(|| {
            ApiError::invalid("missing_required_parameter", Some("model"), format!("you must provide a model parameter: one of {}", MODEL_IDS.join(", ")))
        })?;
        let model = OfferedModel::parse(model_id.trim()).ok_or_else(|| ApiError::model_not_found(&model_id, &MODEL_IDS))?;
        let messages =
            raw.messages.ok_or_else(|| ApiError::invalid("missing_required_parameter", Some("messages"), "you must provide a messages parameter"))?;
        let Some((last, earlier)) = messages.split_last() else {
            return Err(ApiError::invalid("invalid_value", Some("messages"), "messages is empty; it needs at least one user message"));
        };
        for message in &messages {
            if !matches!(message.role.as_str(), "system" | "developer" | "user" | "assistant" | "tool") {
                return Err(ApiError::invalid(
                    "invalid_value",
                    Some("messages"),
                    format!("`{}` is not a message role; use system, user or assistant", message.role),
                ));
            }
        }
        if last.role != "user" {
            return Err(ApiError::invalid(
                "invalid_value",
                Some("messages"),
                format!("the last message must be the user's question, not a `{}` message", last.role),
            ));
        }
        let question = last.content.as_ref().map(Content::text).transpose()?.unwrap_or_default();
        if question.trim().is_empty() {
            return Err(ApiError::invalid("invalid_value", Some("messages"), "the last user message is empty"));
        }
        let mut context = String::new();
        for message in earlier {
            let text = message.content.as_ref().map(Content::text).transpose()?.unwrap_or_default();
            if text.trim().is_empty() {
                continue;
            }
            if !context.is_empty() {
                context.push_str("\n\n");
            }
            // A system message is the context itself; the others say who said them.
            if !matches!(message.role.as_str(), "system" | "developer") {
                context.push_str(&message.role);
                context.push_str(": ");
            }
            context.push_str(text.trim());
        }
        Ok(ChatRequest {
            model,
            question: question.trim().to_string(),
            context,
            stream: raw.stream.unwrap_or(false),
            include_usage: raw.stream_options.is_some_and(|options| options.include_usage),
            user: raw.user.filter(|user| !user.trim().is_empty()),
        })
    }
}

/// The answer and what AutoMix decided about it.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub answer: String,
    /// `local` or `remote`.
    pub answered_by: &'static str,
    pub decision: String,
    pub reason: String,
    pub local_confidence: f64,
    pub cost: f64,
    pub currency: String,
    pub question_id: i64,
    pub remote_model: Option<String>,
    /// `[label, snippet]` of each passage the answer read.
    pub citations: Vec<(String, String)>,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

impl Outcome {
    /// The extension field every response carries (`automix`); clients that do not know it ignore it.
    pub fn extension(&self) -> Value {
        json!({
            "decision": self.decision,
            "reason": self.reason,
            "local_confidence": self.local_confidence,
            "answered_by": self.answered_by,
            "remote_model": self.remote_model,
            "cost": self.cost,
            "currency": self.currency,
            "question_id": self.question_id,
            "citations": self.citations.iter().map(|(label, snippet)| json!({ "label": label, "snippet": snippet })).collect::<Vec<_>>(),
        })
    }

    pub fn usage(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        })
    }
}

/// A non-streamed completion.
pub fn completion(id: &str, created: u64, model: &str, outcome: &Outcome) -> Value {
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": outcome.answer },
            "finish_reason": "stop",
            "logprobs": null,
        }],
        "usage": outcome.usage(),
        "automix": outcome.extension(),
    })
}

/// One streamed chunk: a `delta` and, on the last one, the `finish_reason`.
pub fn chunk(id: &str, created: u64, model: &str, delta: Value, finish_reason: Option<&str>) -> Value {
    json!({
        "id": id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": null }],
    })
}

/// The models this server offers, as `GET /v1/models` lists them.
pub fn model_list(created: u64) -> Value {
    json!({
        "object": "list",
        "data": MODEL_IDS.iter().map(|id| json!({ "id": id, "object": "model", "created": created, "owned_by": "automix" })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_request_reads_its_question_and_earlier_messages_as_context() {
        let body = br#"{"model":"automix","messages":[{"role":"system","content":"The code is 4417."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":" What is the code? "}],"stream":true,"stream_options":{"include_usage":true},"user":"notes-app"}"#;
        let request = ChatRequest::parse(body).unwrap();
        assert_eq!(request.model, OfferedModel::Routed);
        assert_eq!(request.question, "What is the code?");
        assert_eq!(request.context, "The code is 4417.\n\nuser: Hi\n\nassistant: Hello");
        assert!(request.stream && request.include_usage);
        assert_eq!(request.user.as_deref(), Some("notes-app"));
    }

    #[test]
    fn content_parts_of_text_are_joined_and_others_refused() {
        let body = br#"{"model":"automix-local","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"#;
        assert_eq!(ChatRequest::parse(body).unwrap().question, "a\nb");
        let image = br#"{"model":"automix-local","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}"#;
        assert_eq!(ChatRequest::parse(image).unwrap_err().code, "unsupported_content");
    }

    #[test]
    fn each_bad_request_gets_its_own_code_and_field() {
        let cases: [(&[u8], &str, Option<&str>, u16); 8] = [
            (b"{not json", "invalid_json", None, 400),
            (br#"{"model":"automix","messages":"hi"}"#, "invalid_json", None, 400),
            (br#"{"messages":[{"role":"user","content":"q"}]}"#, "missing_required_parameter", Some("model"), 400),
            (br#"{"model":"gpt-4o","messages":[{"role":"user","content":"q"}]}"#, "model_not_found", Some("model"), 404),
            (br#"{"model":"automix"}"#, "missing_required_parameter", Some("messages"), 400),
            (br#"{"model":"automix","messages":[]}"#, "invalid_value", Some("messages"), 400),
            (br#"{"model":"automix","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}"#, "invalid_value", Some("messages"), 400),
            (br#"{"model":"automix","messages":[{"role":"user","content":"   "}]}"#, "invalid_value", Some("messages"), 400),
        ];
        for (body, code, param, status) in cases {
            let error = ChatRequest::parse(body).unwrap_err();
            let shown = String::from_utf8_lossy(body);
            assert_eq!((error.code, error.param, error.status.as_u16()), (code, param, status), "{shown}: {}", error.message);
            assert!(!error.message.is_empty());
            let wire = error.body();
            assert_eq!(wire["error"]["code"], code, "{wire}");
            assert_eq!(wire["error"]["type"], "invalid_request_error");
        }
    }

    #[test]
    fn the_extension_and_usage_carry_the_decision_and_the_counts() {
        let outcome = Outcome {
            answer: "4417".into(),
            answered_by: "local",
            decision: "stay_local".into(),
            local_confidence: 0.9,
            prompt_tokens: 30,
            completion_tokens: 3,
            citations: vec![("the request".into(), "The code is 4417.".into())],
            ..Outcome::default()
        };
        let body = completion("chatcmpl-1", 7, "automix", &outcome);
        assert_eq!(body["choices"][0]["message"]["content"], "4417");
        assert_eq!(body["usage"]["total_tokens"], 33);
        assert_eq!(body["automix"]["decision"], "stay_local");
        assert_eq!(body["automix"]["citations"][0]["label"], "the request");
    }
}
