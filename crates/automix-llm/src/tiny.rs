//! A tiny random llama or Qwen2 GGUF with a real byte-level BPE tokenizer, for fast tests of the
//! whole load → tokenize → generate path without downloading a model, in any of the quant types the
//! kernels run.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use candle_core::quantized::{gguf_file::Value, GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::config::Architecture;
use crate::error::{LlmError, Result};

pub const TINY_CHAT_TEMPLATE: &str =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Shapes of the generated model; small enough to build and run in milliseconds.
pub struct TinySpec {
    pub n_layer: usize,
    pub n_embd: usize,
    pub n_head: usize,
    pub n_kv_head: usize,
    pub n_ff: usize,
    pub context_length: usize,
    pub seed: u64,
    /// Llama, or Qwen2 (q/k/v biases, NeoX RoPE); the embedding is tied to the output either way.
    pub architecture: Architecture,
    /// The type of every weight matrix (the K-quants need n_embd and n_ff multiples of 256).
    pub weights: GgmlDType,
}

impl Default for TinySpec {
    fn default() -> Self {
        Self {
            n_layer: 2,
            n_embd: 64,
            n_head: 4,
            n_kv_head: 2,
            n_ff: 128,
            context_length: 512,
            seed: 7,
            architecture: Architecture::Llama,
            weights: GgmlDType::Q8_0,
        }
    }
}

/// GPT-2's reversible map from bytes to printable characters, used by byte-level BPE vocabularies.
pub fn byte_to_char(byte: u8) -> char {
    let printable = |b: u8| (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    if printable(byte) {
        return char::from(byte);
    }
    let offset = (0..byte).filter(|&b| !printable(b)).count() as u32;
    char::from_u32(256 + offset).expect("valid code point")
}

/// The vocabulary: three special tokens, the 256 byte tokens, then a few merges.
fn vocabulary() -> (Vec<String>, Vec<String>, Vec<i32>) {
    let mut tokens: Vec<String> = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"].map(String::from).to_vec();
    let mut types = vec![3; 3];
    tokens.extend((0..=255u8).map(|b| byte_to_char(b).to_string()));
    types.extend(std::iter::repeat_n(1, 256));
    let merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "P"), ("a", "r"), ("ĠP", "ar"), ("i", "s"), ("ĠPar", "is")];
    for (a, b) in merges {
        tokens.push(format!("{a}{b}"));
        types.push(1);
    }
    (tokens, merges.iter().map(|(a, b)| format!("{a} {b}")).collect(), types)
}

pub fn write_tiny_llama(path: &Path, spec: &TinySpec) -> Result<()> {
    let device = Device::Cpu;
    let (tokens, merges, types) = vocabulary();
    let vocab = tokens.len();
    let head_dim = spec.n_embd / spec.n_head;
    let mut rng_seed = spec.seed;
    let mut random = |rows: usize, cols: usize| -> Result<QTensor> {
        rng_seed += 1;
        let values = deterministic_noise(rng_seed, rows * cols, 0.5 / (cols as f32).sqrt());
        let tensor = Tensor::from_vec(values, (rows, cols), &device)?;
        Ok(QTensor::quantize(&tensor, spec.weights)?)
    };
    let ones = |n: usize| -> Result<QTensor> { Ok(QTensor::quantize(&Tensor::ones(n, candle_core::DType::F32, &device)?, GgmlDType::F32)?) };
    let mut tensors: Vec<(String, QTensor)> =
        vec![("token_embd.weight".into(), random(vocab, spec.n_embd)?), ("output_norm.weight".into(), ones(spec.n_embd)?)];
    for layer in 0..spec.n_layer {
        let kv = spec.n_kv_head * head_dim;
        for (name, rows, cols) in [
            ("attn_q", spec.n_embd, spec.n_embd),
            ("attn_k", kv, spec.n_embd),
            ("attn_v", kv, spec.n_embd),
            ("attn_output", spec.n_embd, spec.n_embd),
            ("ffn_gate", spec.n_ff, spec.n_embd),
            ("ffn_up", spec.n_ff, spec.n_embd),
            ("ffn_down", spec.n_embd, spec.n_ff),
        ] {
            tensors.push((format!("blk.{layer}.{name}.weight"), random(rows, cols)?));
        }
        if spec.architecture == Architecture::Qwen2 {
            for (name, n) in [("attn_q", spec.n_embd), ("attn_k", kv), ("attn_v", kv)] {
                let bias = Tensor::from_vec(deterministic_noise(spec.seed ^ (1000 + layer as u64 * 3 + n as u64), n, 0.5), n, &device)?;
                tensors.push((format!("blk.{layer}.{name}.bias"), QTensor::quantize(&bias, GgmlDType::F32)?));
            }
        }
        tensors.push((format!("blk.{layer}.attn_norm.weight"), ones(spec.n_embd)?));
        tensors.push((format!("blk.{layer}.ffn_norm.weight"), ones(spec.n_embd)?));
    }
    let strings = |v: Vec<String>| Value::Array(v.into_iter().map(Value::String).collect());
    let arch = spec.architecture.gguf_name();
    let key = |suffix: &str| format!("{arch}.{suffix}");
    let keys = [
        "block_count",
        "context_length",
        "embedding_length",
        "feed_forward_length",
        "attention.head_count",
        "attention.head_count_kv",
        "rope.freq_base",
        "attention.layer_norm_rms_epsilon",
        "vocab_size",
    ]
    .map(key);
    let metadata: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String(arch.into())),
        ("general.name", Value::String("automix-tiny-random".into())),
        (&keys[0], Value::U32(spec.n_layer as u32)),
        (&keys[1], Value::U32(spec.context_length as u32)),
        (&keys[2], Value::U32(spec.n_embd as u32)),
        (&keys[3], Value::U32(spec.n_ff as u32)),
        (&keys[4], Value::U32(spec.n_head as u32)),
        (&keys[5], Value::U32(spec.n_kv_head as u32)),
        (&keys[6], Value::F32(10_000.0)),
        (&keys[7], Value::F32(1e-5)),
        (&keys[8], Value::U32(vocab as u32)),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("smollm".into())),
        ("tokenizer.ggml.tokens", strings(tokens)),
        ("tokenizer.ggml.merges", strings(merges)),
        ("tokenizer.ggml.token_type", Value::Array(types.into_iter().map(Value::I32).collect())),
        ("tokenizer.ggml.bos_token_id", Value::U32(1)),
        ("tokenizer.ggml.eos_token_id", Value::U32(2)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        ("tokenizer.chat_template", Value::String(TINY_CHAT_TEMPLATE.into())),
    ];
    let io_err = |source| LlmError::Io { path: path.to_path_buf(), source };
    let mut writer = BufWriter::new(File::create(path).map_err(io_err)?);
    let metadata_refs: Vec<(&str, &Value)> = metadata.iter().map(|(k, v)| (*k, v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    candle_core::quantized::gguf_file::write(&mut writer, &metadata_refs, &tensor_refs)?;
    Ok(())
}

/// Uniform noise in [-scale, scale] from a SplitMix64 stream: reproducible across platforms.
fn deterministic_noise(seed: u64, n: usize, scale: f32) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            ((z >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}
