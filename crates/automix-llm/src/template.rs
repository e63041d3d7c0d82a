//! Chat prompts rendered from the model's own Jinja template, with fallbacks for known families.

use minijinja::{context, Environment, Error, ErrorKind};
use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::gguf::GgufFile;
use crate::tokenizer::TextTokenizer;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self { role: Role::System, content: content.into() }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self { role: Role::User, content: content.into() }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self { role: Role::Assistant, content: content.into() }
    }
}

const CHATML: &str = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}\
{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const LLAMA3: &str = "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m.role }}<|end_header_id|>\n\n\
{{ m.content | trim }}<|eot_id|>{% endfor %}{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}";
const ZEPHYR: &str = "{% for m in messages %}<|{{ m.role }}|>\n{{ m.content }}{{ eos_token }}\n{% endfor %}\
{% if add_generation_prompt %}<|assistant|>\n{% endif %}";

pub struct ChatTemplate {
    source: String,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// The template stored in the GGUF file, or the one for the family its special tokens reveal.
    pub fn load(gguf: &GgufFile, tokenizer: &TextTokenizer) -> Self {
        let special = |key: &str| gguf.usize(key).ok().and_then(|id| tokenizer.token(id as u32)).unwrap_or_default();
        let source = gguf.string("tokenizer.chat_template").unwrap_or_else(|_| Self::fallback_for(tokenizer).to_string());
        Self { source, bos_token: special("tokenizer.ggml.bos_token_id"), eos_token: special("tokenizer.ggml.eos_token_id") }
    }

    pub fn from_source(source: impl Into<String>, bos_token: impl Into<String>, eos_token: impl Into<String>) -> Self {
        Self { source: source.into(), bos_token: bos_token.into(), eos_token: eos_token.into() }
    }

    fn fallback_for(tokenizer: &TextTokenizer) -> &'static str {
        if tokenizer.token_id("<|im_start|>").is_some() {
            CHATML
        } else if tokenizer.token_id("<|start_header_id|>").is_some() {
            LLAMA3
        } else {
            ZEPHYR
        }
    }

    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let mut env = Environment::new();
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", |message: String| -> std::result::Result<String, Error> { Err(Error::new(ErrorKind::InvalidOperation, message)) });
        env.add_template("chat", &self.source).map_err(|e| LlmError::Template(e.to_string()))?;
        let template = env.get_template("chat").map_err(|e| LlmError::Template(e.to_string()))?;
        template
            .render(context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            })
            .map_err(|e| LlmError::Template(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_fallback_renders_roles_and_generation_prompt() {
        let template = ChatTemplate::from_source(CHATML, "", "<|im_end|>");
        let text = template.render(&[Message::system("Be brief."), Message::user("Hi")], true).unwrap();
        assert_eq!(text, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn llama3_fallback_trims_and_adds_header() {
        let template = ChatTemplate::from_source(LLAMA3, "<|begin_of_text|>", "<|eot_id|>");
        let text = template.render(&[Message::user(" Hi ")], true).unwrap();
        assert_eq!(text, "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    #[test]
    fn template_errors_are_reported_not_panicked() {
        let template = ChatTemplate::from_source("{{ raise_exception('roles must alternate') }}", "", "");
        let err = template.render(&[Message::user("x")], true).unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
    }
}
