//! The decoder forward pass: candle ops (any device; the cache and the logits are ours to control),
//! or, on a CPU with the kernels and a model of the types they pack, the kernels' own loop in
//! [`crate::host`].

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use std::sync::Arc;

use crate::config::{Architecture, ModelConfig};
use crate::error::Result;
use crate::gguf::GgufFile;
use crate::host::{pack_matrices, HostModel};
use crate::kernels::{Isa, PackedMatrix};
use crate::kv_cache::KvCache;

/// Which positions' logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position: shape (vocab). What generation needs.
    Last,
    /// Every new position: shape (tokens, vocab). What scoring continuations needs.
    All,
}

/// A weight matrix: repacked for the CPU kernels where they apply, else candle's quantized matmul.
enum Linear {
    Packed(PackedMatrix),
    Candle(QMatMul),
}

impl Linear {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Self::Candle(w) => Ok(w.forward(x)?),
            Self::Packed(w) => Ok(w.forward(x)?),
        }
    }
}

/// Loads weight matrices stacked along their output rows: repacked into one matrix for the
/// kernels of `isa` where they fit, else one candle matmul each.
fn load_linear(gguf: &mut GgufFile, names: &[String], device: &Device, isa: Isa) -> Result<Vec<Linear>> {
    if isa > Isa::Generic && device.is_cpu() {
        if let Some(w) = pack_matrices(isa, gguf, names)? {
            return Ok(vec![Linear::Packed(w)]);
        }
    }
    names.iter().map(|name| Ok(Linear::Candle(QMatMul::from_qtensor(gguf.tensor(name, device)?)?))).collect()
}

/// Splits the last dimension of `x` into consecutive pieces of the given sizes.
fn split_last(x: &Tensor, sizes: &[usize]) -> Result<Vec<Tensor>> {
    let last = x.rank() - 1;
    let mut start = 0;
    let mut pieces = Vec::with_capacity(sizes.len());
    for &size in sizes {
        pieces.push(x.narrow(last, start, size)?);
        start += size;
    }
    Ok(pieces)
}

struct Attention {
    /// q, k and v: one fused matrix when packed, else three.
    qkv: Vec<Linear>,
    o: Linear,
    /// Qwen2 adds biases to the q/k/v projections.
    bias: Option<[Tensor; 3]>,
    /// Qwen3 RMS-normalises each head of q and k.
    qk_norm: Option<[Tensor; 2]>,
}

struct Block {
    attn_norm: Tensor,
    attn: Attention,
    ffn_norm: Tensor,
    /// Gate and up: one fused matrix when packed, else two.
    gate_up: Vec<Linear>,
    down: Linear,
}

/// The layers as candle tensors, with the matrices the kernels fit repacked for them.
struct CandleLayers {
    blocks: Vec<Block>,
    output_norm: Tensor,
    lm_head: Linear,
    cos: Tensor,
    sin: Tensor,
}

enum Backend {
    Candle(CandleLayers),
    /// Boxed: far larger than the candle variant.
    Host(Box<HostModel>),
}

pub struct Transformer {
    pub config: ModelConfig,
    device: Device,
    embedding: Arc<QTensor>,
    backend: Backend,
}

impl Transformer {
    /// `isa`: the CPU kernels to use (`Generic`: candle's alone). With kernels, a model whose matrices they all pack runs
    /// the kernels' own loop; other models use the kernels for the matrices they fit.
    pub fn load_with(gguf: &mut GgufFile, device: &Device, isa: Isa) -> Result<Self> {
        let config = ModelConfig::from_gguf(gguf)?;
        let embedding = Arc::new(gguf.tensor("token_embd.weight", device)?);
        let (cos, sin) = rope_tables(&config, device)?;
        if isa > Isa::Generic && device.is_cpu() {
            let table = |t: &Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1()?) };
            if let Some(host) = HostModel::load(gguf, &config, isa, table(&cos)?, table(&sin)?)? {
                return Ok(Self { config, device: device.clone(), embedding, backend: Backend::Host(Box::new(host)) });
            }
        }
        let head_name = if gguf.has_tensor("output.weight") { "output.weight" } else { "token_embd.weight" };
        let lm_head = match load_linear(gguf, &[head_name.to_string()], device, isa)?.pop() {
            Some(Linear::Packed(w)) => Linear::Packed(w),
            _ if head_name == "output.weight" => Linear::Candle(QMatMul::from_qtensor(gguf.tensor(head_name, device)?)?),
            _ => Linear::Candle(QMatMul::from_arc(embedding.clone())?),
        };
        let mut blocks = Vec::with_capacity(config.n_layer);
        for layer in 0..config.n_layer {
            let mut matmuls = |names: &[&str]| -> Result<Vec<Linear>> {
                let names: Vec<String> = names.iter().map(|name| format!("blk.{layer}.{name}.weight")).collect();
                load_linear(gguf, &names, device, isa)
            };
            let qkv = matmuls(&["attn_q", "attn_k", "attn_v"])?;
            let gate_up = matmuls(&["ffn_gate", "ffn_up"])?;
            let single = |mut linears: Vec<Linear>| linears.pop().expect("one name gives one matrix");
            let o = single(matmuls(&["attn_output"])?);
            let down = single(matmuls(&["ffn_down"])?);
            let mut dense = |name: &str| -> Result<Tensor> { Ok(gguf.tensor(&format!("blk.{layer}.{name}"), device)?.dequantize(device)?) };
            let bias = match config.architecture {
                Architecture::Qwen2 => Some([dense("attn_q.bias")?, dense("attn_k.bias")?, dense("attn_v.bias")?]),
                _ => None,
            };
            let qk_norm = match config.architecture {
                Architecture::Qwen3 => Some([dense("attn_q_norm.weight")?, dense("attn_k_norm.weight")?]),
                _ => None,
            };
            blocks.push(Block {
                attn_norm: dense("attn_norm.weight")?,
                attn: Attention { qkv, o, bias, qk_norm },
                ffn_norm: dense("ffn_norm.weight")?,
                gate_up,
                down,
            });
        }
        let output_norm = gguf.tensor("output_norm.weight", device)?.dequantize(device)?;
        let layers = CandleLayers { blocks, output_norm, lm_head, cos, sin };
        Ok(Self { config, device: device.clone(), embedding, backend: Backend::Candle(layers) })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs `tokens` after whatever `cache` holds, appends them to the cache, and returns logits.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Tensor> {
        if tokens.is_empty() {
            return Err(candle_core::Error::Msg("a forward pass needs at least one token".into()).into());
        }
        let ids = Tensor::new(tokens, &self.device)?;
        let x = self.embedding.embedding(&ids)?;
        match &self.backend {
            Backend::Candle(layers) => self.forward_candle(layers, x, tokens, cache, logits),
            Backend::Host(host) => {
                let out = host.forward(x.flatten_all()?.to_vec1()?, cache, logits == Logits::All);
                cache.advance(tokens);
                Ok(match logits {
                    Logits::Last => Tensor::from_vec(out, self.config.vocab_size, &self.device)?,
                    Logits::All => Tensor::from_vec(out, (tokens.len(), self.config.vocab_size), &self.device)?,
                })
            }
        }
    }

    fn forward_candle(&self, layers: &CandleLayers, x: Tensor, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Tensor> {
        let seq_len = tokens.len();
        let start = cache.len();
        let mut x = x.unsqueeze(0)?;
        let group = self.config.n_head / self.config.n_kv_head;
        let mask = causal_mask(seq_len, start, group, &self.device)?;
        let cos = layers.cos.narrow(0, start, seq_len)?;
        let sin = layers.sin.narrow(0, start, seq_len)?;
        for (layer, block) in layers.blocks.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &block.attn_norm, self.config.rms_eps as f32)?;
            let h = self.attention(layer, &block.attn, &h, cache, mask.as_ref(), &cos, &sin)?;
            x = (x + h)?;
            let h = candle_nn::ops::rms_norm(&x, &block.ffn_norm, self.config.rms_eps as f32)?;
            let (gate, up) = match block.gate_up.as_slice() {
                [fused] => {
                    let both = fused.forward(&h)?;
                    let mut halves = split_last(&both, &[self.config.n_ff, self.config.n_ff])?;
                    let up = halves.pop().expect("two halves");
                    (halves.pop().expect("two halves"), up)
                }
                [gate, up] => (gate.forward(&h)?, up.forward(&h)?),
                _ => unreachable!("gate and up load as one or two matrices"),
            };
            let h = (candle_nn::ops::silu(&gate)? * up)?;
            x = (x + block.down.forward(&h)?)?;
        }
        cache.advance(tokens);
        let x = x.squeeze(0)?;
        let x = match logits {
            Logits::Last => x.narrow(0, seq_len - 1, 1)?,
            Logits::All => x,
        };
        let x = candle_nn::ops::rms_norm(&x, &layers.output_norm, self.config.rms_eps as f32)?;
        let out = layers.lm_head.forward(&x)?.to_dtype(DType::F32)?;
        Ok(match logits {
            Logits::Last => out.squeeze(0)?,
            Logits::All => out,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn attention(&self, layer: usize, attn: &Attention, x: &Tensor, cache: &mut KvCache, mask: Option<&Tensor>, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let cfg = &self.config;
        let (_, seq_len, _) = x.dims3()?;
        let q_size = cfg.n_head * cfg.head_dim;
        let kv_size = cfg.n_kv_head * cfg.head_dim;
        let (mut q, mut k, mut v) = match attn.qkv.as_slice() {
            [fused] => {
                let mut pieces = split_last(&fused.forward(x)?, &[q_size, kv_size, kv_size])?.into_iter();
                let mut next = || pieces.next().expect("three pieces");
                (next(), next(), next())
            }
            [q, k, v] => (q.forward(x)?, k.forward(x)?, v.forward(x)?),
            _ => unreachable!("q, k and v load as one or three matrices"),
        };
        if let Some([bq, bk, bv]) = &attn.bias {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        let heads = |t: Tensor, n: usize| -> candle_core::Result<Tensor> { t.reshape((1, seq_len, n, cfg.head_dim))?.transpose(1, 2)?.contiguous() };
        let mut q = heads(q, cfg.n_head)?;
        let mut k = heads(k, cfg.n_kv_head)?;
        let v = heads(v, cfg.n_kv_head)?;
        if let Some([q_norm, k_norm]) = &attn.qk_norm {
            q = candle_nn::ops::rms_norm(&q, q_norm, cfg.rms_eps as f32)?;
            k = candle_nn::ops::rms_norm(&k, k_norm, cfg.rms_eps as f32)?;
        }
        let rope = if cfg.architecture.rope_is_neox() { candle_nn::rotary_emb::rope } else { candle_nn::rotary_emb::rope_i };
        let q = rope(&q, cos, sin)?;
        let k = rope(&k, cos, sin)?;
        let (k, v) = cache.append(layer, &k, &v, cfg.context_length)?;

        // Grouped-query attention without copying keys: the query heads that share a key head are
        // adjacent, so folding them into the row dimension lets one matmul serve the whole group.
        let group = cfg.n_head / cfg.n_kv_head;
        let q = q.reshape((1, cfg.n_kv_head, group * seq_len, cfg.head_dim))?;
        let scale = 1.0 / (cfg.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores.broadcast_add(mask)?,
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = weights.matmul(&v)?;
        let y = y.reshape((1, cfg.n_head, seq_len, cfg.head_dim))?.transpose(1, 2)?.reshape((1, seq_len, cfg.n_head * cfg.head_dim))?;
        attn.o.forward(&y)
    }
}

/// Additive mask of shape (group * seq_len, start + seq_len): row `g * seq_len + i` is query `i`.
fn causal_mask(seq_len: usize, start: usize, group: usize, device: &Device) -> Result<Option<Tensor>> {
    if seq_len == 1 {
        return Ok(None);
    }
    let total = start + seq_len;
    let row: Vec<f32> = (0..seq_len).flat_map(|i| (0..total).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 })).collect();
    let mask = Tensor::from_vec(row, (seq_len, total), device)?;
    Ok(Some(mask.repeat((group, 1))?))
}

fn rope_tables(cfg: &ModelConfig, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let inv_freq: Vec<f32> = (0..half).map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / cfg.head_dim as f64) as f32).collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
    let positions = Tensor::arange(0u32, cfg.context_length as u32, device)?.to_dtype(DType::F32)?.reshape((cfg.context_length, 1))?;
    let angles = positions.broadcast_mul(&inv_freq)?;
    Ok((angles.cos()?, angles.sin()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tiny::{write_tiny_llama, TinySpec};
    use candle_core::quantized::GgmlDType;

    /// Every CPU kernel set must give the logits of candle's own quantized matmuls, prefill and
    /// decode, up to the rounding of activations to 8 bits (candle rounds in blocks of 256 where it
    /// repacks), for llama's interleaved RoPE and Qwen's NeoX one, and across a snapshot restore.
    #[test]
    fn cpu_kernels_match_candle_ops() {
        assert_kernels_match_candle(&TinySpec { n_embd: 128, n_ff: 256, ..TinySpec::default() });
    }

    /// The same for a tiny Qwen2 (q/k/v biases, NeoX RoPE, tied embeddings) in each type of a
    /// Q4_K_M file (stacks mixing them: kernels::matrix).
    #[test]
    fn cpu_kernels_match_candle_on_qwen2_in_every_quant_type() {
        for weights in [GgmlDType::Q4K, GgmlDType::Q5_0, GgmlDType::Q6K, GgmlDType::Q8_0] {
            let spec = TinySpec { n_embd: 256, n_ff: 512, n_head: 4, n_kv_head: 2, architecture: Architecture::Qwen2, weights, ..TinySpec::default() };
            assert_kernels_match_candle(&spec);
        }
    }

    fn assert_kernels_match_candle(spec: &TinySpec) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tiny.gguf");
        write_tiny_llama(&path, spec).unwrap();
        let load = |isa| Transformer::load_with(&mut GgufFile::open(&path).unwrap(), &Device::Cpu, isa).unwrap();
        let reference = load(Isa::Generic);
        assert!(matches!(reference.backend, Backend::Candle(_)));
        let kernel_sets: Vec<Isa> = Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic).collect();
        if kernel_sets.is_empty() {
            eprintln!("no CPU kernels on this machine; only candle's path runs here");
        }
        for isa in kernel_sets {
            let fast = load(isa);
            assert!(matches!(fast.backend, Backend::Host(_)), "{isa:?}: a {:?} model runs the kernels' loop", spec.weights);
            let prompt: Vec<u32> = (0..37).map(|i| (i * 7 + 3) % fast.config.vocab_size as u32).collect();
            let (mut fast_cache, mut reference_cache) = (KvCache::new(), KvCache::new());
            let mut compare = |tokens: &[u32], logits: Logits, fast_cache: &mut KvCache| {
                let a: Vec<f32> = fast.forward(tokens, fast_cache, logits).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let b: Vec<f32> = reference.forward(tokens, &mut reference_cache, logits).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                assert_eq!(a.len(), b.len());
                let scale = b.iter().fold(0f32, |m, x| m.max(x.abs()));
                let diff = a.iter().zip(&b).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
                assert!(diff <= 0.02 * scale.max(1.0), "{isa:?} {:?}: kernels differ from candle by {diff} (logit scale {scale})", spec.weights);
                a
            };
            compare(&prompt, Logits::All, &mut fast_cache);
            let snapshot = fast_cache.snapshot();
            let first: Vec<Vec<f32>> = [5, 9, 11].iter().map(|&t| compare(&[t], Logits::Last, &mut fast_cache)).collect();
            // Back to the snapshot: the same tokens give the same logits (the writes after it did
            // not reach the buffers it shares).
            fast_cache.restore(&snapshot);
            for (&token, expected) in [5, 9, 11].iter().zip(&first) {
                let again: Vec<f32> = fast.forward(&[token], &mut fast_cache, Logits::Last).unwrap().to_vec1().unwrap();
                assert_eq!(&again, expected, "{isa:?}: restoring a snapshot must be exact");
            }
        }
    }
}
