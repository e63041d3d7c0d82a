//! Local quantized chat models for AutoMix, run with candle: GGUF loading, tokenizer, chat template,
//! streaming generation, a caller-owned KV cache with snapshots, and logit scoring.

pub mod config;
pub mod convert;
pub mod error;
pub mod gguf;
pub mod kernels;
pub mod kv_cache;
pub mod model;
pub mod sampling;
pub mod template;
pub mod tiny;
pub mod tokenizer;
pub mod transformer;

pub use config::{Architecture, ModelConfig};
pub use error::{LlmError, Result};
pub use kv_cache::KvCache;
pub use model::{Generation, LocalModel, StopReason, Timings};
pub use sampling::SamplingParams;
pub use template::{Message, Role};
pub use transformer::Logits;

/// The best device compiled in: CUDA or Metal when built with that feature and present, else CPU.
pub fn default_device() -> candle_core::Device {
    #[cfg(feature = "cuda")]
    if let Ok(device) = candle_core::Device::new_cuda(0) {
        return device;
    }
    #[cfg(feature = "metal")]
    if let Ok(device) = candle_core::Device::new_metal(0) {
        return device;
    }
    candle_core::Device::Cpu
}
