//! all-MiniLM-L6-v2 sentence embeddings: a BERT encoder on candle, mean pooling, L2-normalised,
//! batched.

mod bert;

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::chunk::TokenCounter;
pub use bert::mean_pool_normalized;
use bert::BertEncoder;

/// Directory name of the embedding model inside `<AUTOMIX_HOME>/models`.
pub const EMBEDDING_MODEL_NAME: &str = "all-minilm-l6-v2";
/// Longest input the model was trained on; longer texts are truncated.
pub const MAX_INPUT_TOKENS: usize = 256;
/// 16 texts of 256 tokens keep the attention scores of one layer near 50 MB.
const BATCH_SIZE: usize = 16;
const PULL_HINT: &str = "run `automix models pull all-minilm-l6-v2` (or `make test`) to download it";

/// Why the embedding model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("embedding model file {path} is missing; {PULL_HINT}")]
    MissingFile { path: PathBuf },
    #[error("embedding model file {path} is damaged ({reason}); delete it and {PULL_HINT}")]
    DamagedFile { path: PathBuf, reason: String },
    #[error("tokenizing text for embedding failed: {0}")]
    Tokenize(String),
    #[error("running the embedding model failed: {0}")]
    Inference(#[from] candle_core::Error),
}

/// `<AUTOMIX_HOME>/models/all-minilm-l6-v2`, where the model manager installs it.
pub fn default_model_dir() -> PathBuf {
    automix_models::automix_home().join("models").join(EMBEDDING_MODEL_NAME)
}

/// A loaded sentence-embedding model.
pub struct Embedder {
    model: BertEncoder,
    /// Pads and truncates, for batches fed to the model.
    batch_tokenizer: Tokenizer,
    /// Neither pads nor truncates, for counting tokens.
    counting_tokenizer: Tokenizer,
    dimension: usize,
    device: Device,
}

impl Embedder {
    /// Loads model.safetensors, tokenizer.json and config.json from `dir`.
    pub fn load(dir: &Path, device: &Device) -> Result<Embedder, EmbedError> {
        let config_path = existing_file(dir, "config.json")?;
        let tokenizer_path = existing_file(dir, "tokenizer.json")?;
        let weights_path = existing_file(dir, "model.safetensors")?;
        let damaged = |path: &Path, reason: String| EmbedError::DamagedFile { path: path.to_path_buf(), reason };

        let config_text = std::fs::read_to_string(&config_path).map_err(|error| damaged(&config_path, error.to_string()))?;
        let config: Config = serde_json::from_str(&config_text).map_err(|error| damaged(&config_path, error.to_string()))?;
        let dimension: usize = serde_json::from_str::<serde_json::Value>(&config_text)
            .ok()
            .and_then(|value| value.get("hidden_size")?.as_u64())
            .ok_or_else(|| damaged(&config_path, "no hidden_size".to_string()))? as usize;

        let mut counting_tokenizer = Tokenizer::from_file(&tokenizer_path).map_err(|error| damaged(&tokenizer_path, error.to_string()))?;
        counting_tokenizer.with_padding(None);
        counting_tokenizer.with_truncation(None).map_err(|error| damaged(&tokenizer_path, error.to_string()))?;
        let mut batch_tokenizer = counting_tokenizer.clone();
        batch_tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        batch_tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_INPUT_TOKENS, ..Default::default() }))
            .map_err(|error| damaged(&tokenizer_path, error.to_string()))?;

        let tensors = candle_core::safetensors::load(&weights_path, device).map_err(|error| damaged(&weights_path, error.to_string()))?;
        let weights = VarBuilder::from_tensors(tensors, DType::F32, device);
        let model = BertEncoder::load(weights, &config, device).map_err(|error| damaged(&weights_path, error.to_string()))?;
        Ok(Embedder { model, batch_tokenizer, counting_tokenizer, dimension, device: device.clone() })
    }

    /// Loads the model from [`default_model_dir`] on the CPU.
    pub fn load_default() -> Result<Embedder, EmbedError> {
        Embedder::load(&default_model_dir(), &Device::Cpu)
    }

    /// Length of every embedding vector (384 for MiniLM-L6).
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Embeds texts into unit vectors, one per text, in input order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Batching texts of similar length wastes less work on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&index| texts[index].len());
        let mut embeddings = vec![Vec::new(); texts.len()];
        for batch in order.chunks(BATCH_SIZE) {
            let batch_texts: Vec<&str> = batch.iter().map(|&index| texts[index]).collect();
            for (index, vector) in batch.iter().zip(self.embed_batch(&batch_texts)?) {
                embeddings[*index] = vector;
            }
        }
        Ok(embeddings)
    }

    /// Embeds one text.
    pub fn embed_one(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self.embed(&[text])?.pop().unwrap_or_default())
    }

    /// Token ids and attention mask, both (texts, longest text), of one padded, truncated batch.
    pub fn batch_inputs(&self, texts: &[&str]) -> Result<(Tensor, Tensor), EmbedError> {
        let encodings = self.batch_tokenizer.encode_batch(texts.to_vec(), true).map_err(|error| EmbedError::Tokenize(error.to_string()))?;
        let ids = stack(&encodings, |encoding| encoding.get_ids(), &self.device)?;
        let mask = stack(&encodings, |encoding| encoding.get_attention_mask(), &self.device)?;
        Ok((ids, mask))
    }

    fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (ids, mask) = self.batch_inputs(texts)?;
        let hidden = self.model.forward(&ids, &mask)?;
        Ok(mean_pool_normalized(&hidden, &mask)?.to_vec2::<f32>()?)
    }
}

impl TokenCounter for Embedder {
    fn count_tokens(&self, text: &str) -> usize {
        self.counting_tokenizer.encode(text, false).map(|encoding| encoding.len()).unwrap_or_else(|_| text.split_whitespace().count())
    }
}

fn existing_file(dir: &Path, name: &str) -> Result<PathBuf, EmbedError> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(EmbedError::MissingFile { path })
    }
}

fn stack(encodings: &[tokenizers::Encoding], field: impl Fn(&tokenizers::Encoding) -> &[u32], device: &Device) -> Result<Tensor, EmbedError> {
    let rows = encodings.iter().map(|encoding| Tensor::new(field(encoding), device)).collect::<Result<Vec<_>, _>>()?;
    Ok(Tensor::stack(&rows, 0)?)
}
