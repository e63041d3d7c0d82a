//! Model hyper-parameters read from GGUF metadata.

use serde::Serialize;

use crate::error::{LlmError, Result};
use crate::gguf::GgufFile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Architecture {
    /// Llama 2/3, SmolLM, TinyLlama: no attention bias, interleaved RoPE in GGUF layout.
    Llama,
    /// Qwen2/2.5: bias on q/k/v, NeoX RoPE.
    Qwen2,
    /// Qwen3: RMS-normalised q and k per head, NeoX RoPE.
    Qwen3,
}

impl Architecture {
    pub fn from_gguf_name(name: &str) -> Result<Self> {
        match name {
            "llama" => Ok(Self::Llama),
            "qwen2" => Ok(Self::Qwen2),
            "qwen3" => Ok(Self::Qwen3),
            other => Err(LlmError::UnsupportedArchitecture(other.to_string())),
        }
    }

    pub fn gguf_name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Qwen3 => "qwen3",
        }
    }

    pub fn rope_is_neox(self) -> bool {
        !matches!(self, Self::Llama)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelConfig {
    pub architecture: Architecture,
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
    pub n_ff: usize,
    pub vocab_size: usize,
    pub context_length: usize,
    pub rope_theta: f64,
    pub rms_eps: f64,
}

impl ModelConfig {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self> {
        let architecture = Architecture::from_gguf_name(&gguf.string("general.architecture")?)?;
        let key = |suffix: &str| format!("{}.{suffix}", architecture.gguf_name());
        let n_embd = gguf.usize(&key("embedding_length"))?;
        let n_head = gguf.usize(&key("attention.head_count"))?;
        let head_dim = gguf.usize(&key("attention.key_length")).unwrap_or(n_embd / n_head);
        let vocab_size = match gguf.usize(&key("vocab_size")) {
            Ok(n) => n,
            Err(_) => {
                gguf.metadata("tokenizer.ggml.tokens").and_then(|v| v.to_vec().ok()).map(Vec::len).ok_or_else(|| LlmError::Metadata(key("vocab_size")))?
            }
        };
        Ok(Self {
            architecture,
            n_layer: gguf.usize(&key("block_count"))?,
            n_embd,
            n_head,
            n_kv_head: gguf.usize(&key("attention.head_count_kv")).unwrap_or(n_head),
            head_dim,
            n_ff: gguf.usize(&key("feed_forward_length"))?,
            vocab_size,
            context_length: gguf.usize(&key("context_length")).unwrap_or(4096),
            rope_theta: gguf.f64(&key("rope.freq_base")).unwrap_or(10_000.0),
            rms_eps: gguf.f64(&key("attention.layer_norm_rms_epsilon")).unwrap_or(1e-6),
        })
    }
}
