#![deny(unsafe_op_in_unsafe_fn)]
//! Local quantized chat models for AutoMix, run with candle: GGUF loading, tokenizer, chat template,
//! streaming generation, a caller-owned KV cache with snapshots, and logit scoring.

pub mod config;
pub mod convert;
pub mod device;
pub mod error;
pub mod gguf;
mod host;
pub mod kernels;
pub mod kv_cache;
pub mod model;
pub mod sampling;
pub mod template;
pub mod tiny;
pub mod tokenizer;
pub mod transformer;

pub use config::{Architecture, ModelConfig};
pub use device::{DeviceChoice, DeviceError};
pub use error::{LlmError, Result};
pub use kv_cache::{KvCache, PromptCache};
pub use model::{Generation, LocalModel, StopReason, Timings};
pub use sampling::SamplingParams;
pub use template::{Message, Role};
pub use transformer::Logits;
