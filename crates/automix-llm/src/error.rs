use std::path::PathBuf;

/// Everything that can go wrong in local inference, phrased so a person knows what to do next.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model file {path} does not exist; run `automix models pull` (or pass the path of a .gguf file)")]
    ModelMissing { path: PathBuf },
    #[error("model file {path} is damaged ({reason}); delete it and run `automix models pull` again")]
    ModelDamaged { path: PathBuf, reason: String },
    #[error("model architecture `{0}` is not supported (supported: llama, qwen2, qwen3)")]
    UnsupportedArchitecture(String),
    #[error("model metadata key `{0}` is missing or has the wrong type")]
    Metadata(String),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error("the prompt needs {needed} tokens but the model's context holds {context}; shorten the context or the question")]
    ContextOverflow { needed: usize, context: usize },
    #[error("generation was cancelled")]
    Cancelled,
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// Boxed: its texts would otherwise make every `Result` of the crate larger.
    #[error(transparent)]
    Device(Box<crate::device::DeviceError>),
    #[error("tensor computation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

impl From<crate::device::DeviceError> for LlmError {
    fn from(error: crate::device::DeviceError) -> Self {
        Self::Device(Box::new(error))
    }
}

pub type Result<T> = std::result::Result<T, LlmError>;
