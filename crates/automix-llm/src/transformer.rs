//! The decoder forward pass, written with candle ops so the cache and the logits are ours to control.

use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use std::sync::Arc;

use crate::config::{Architecture, ModelConfig};
use crate::error::Result;
use crate::gguf::GgufFile;
use crate::kv_cache::KvCache;

/// Which positions' logits a forward pass returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position: shape (vocab). What generation needs.
    Last,
    /// Every new position: shape (tokens, vocab). What scoring continuations needs.
    All,
}

struct Attention {
    q: QMatMul,
    k: QMatMul,
    v: QMatMul,
    o: QMatMul,
    /// Qwen2 adds biases to the q/k/v projections.
    bias: Option<[Tensor; 3]>,
    /// Qwen3 RMS-normalises each head of q and k.
    qk_norm: Option<[Tensor; 2]>,
}

struct Block {
    attn_norm: Tensor,
    attn: Attention,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
}

pub struct Transformer {
    pub config: ModelConfig,
    device: Device,
    embedding: Arc<QTensor>,
    blocks: Vec<Block>,
    output_norm: Tensor,
    lm_head: QMatMul,
    cos: Tensor,
    sin: Tensor,
}

impl Transformer {
    pub fn load(gguf: &mut GgufFile, device: &Device) -> Result<Self> {
        let config = ModelConfig::from_gguf(gguf)?;
        let embedding = Arc::new(gguf.tensor("token_embd.weight", device)?);
        let lm_head = if gguf.has_tensor("output.weight") {
            QMatMul::from_qtensor(gguf.tensor("output.weight", device)?)?
        } else {
            QMatMul::from_arc(embedding.clone())?
        };
        let mut blocks = Vec::with_capacity(config.n_layer);
        for layer in 0..config.n_layer {
            let mut matmul = |name: &str| -> Result<QMatMul> {
                Ok(QMatMul::from_qtensor(gguf.tensor(&format!("blk.{layer}.{name}.weight"), device)?)?)
            };
            let (q, k, v, o) = (matmul("attn_q")?, matmul("attn_k")?, matmul("attn_v")?, matmul("attn_output")?);
            let (gate, up, down) = (matmul("ffn_gate")?, matmul("ffn_up")?, matmul("ffn_down")?);
            let mut dense = |name: &str| -> Result<Tensor> {
                Ok(gguf.tensor(&format!("blk.{layer}.{name}"), device)?.dequantize(device)?)
            };
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
                attn: Attention { q, k, v, o, bias, qk_norm },
                ffn_norm: dense("ffn_norm.weight")?,
                gate,
                up,
                down,
            });
        }
        let output_norm = gguf.tensor("output_norm.weight", device)?.dequantize(device)?;
        let (cos, sin) = rope_tables(&config, device)?;
        Ok(Self { config, device: device.clone(), embedding, blocks, output_norm, lm_head, cos, sin })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Runs `tokens` after whatever `cache` holds, appends them to the cache, and returns logits.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Tensor> {
        let seq_len = tokens.len();
        let start = cache.len();
        let ids = Tensor::new(tokens, &self.device)?;
        let mut x = self.embedding.embedding(&ids)?.unsqueeze(0)?;
        let group = self.config.n_head / self.config.n_kv_head;
        let mask = causal_mask(seq_len, start, group, &self.device)?;
        let cos = self.cos.narrow(0, start, seq_len)?;
        let sin = self.sin.narrow(0, start, seq_len)?;
        for (layer, block) in self.blocks.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &block.attn_norm, self.config.rms_eps as f32)?;
            let h = self.attention(layer, &block.attn, &h, cache, mask.as_ref(), &cos, &sin)?;
            x = (x + h)?;
            let h = candle_nn::ops::rms_norm(&x, &block.ffn_norm, self.config.rms_eps as f32)?;
            let h = (candle_nn::ops::silu(&block.gate.forward(&h)?)? * block.up.forward(&h)?)?;
            x = (x + block.down.forward(&h)?)?;
        }
        cache.advance(tokens);
        let x = x.squeeze(0)?;
        let x = match logits {
            Logits::Last => x.narrow(0, seq_len - 1, 1)?,
            Logits::All => x,
        };
        let x = candle_nn::ops::rms_norm(&x, &self.output_norm, self.config.rms_eps as f32)?;
        let out = self.lm_head.forward(&x)?.to_dtype(DType::F32)?;
        Ok(match logits {
            Logits::Last => out.squeeze(0)?,
            Logits::All => out,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        layer: usize,
        attn: &Attention,
        x: &Tensor,
        cache: &mut KvCache,
        mask: Option<&Tensor>,
        cos: &Tensor,
        sin: &Tensor,
    ) -> Result<Tensor> {
        let cfg = &self.config;
        let (_, seq_len, _) = x.dims3()?;
        let mut q = attn.q.forward(x)?;
        let mut k = attn.k.forward(x)?;
        let mut v = attn.v.forward(x)?;
        if let Some([bq, bk, bv]) = &attn.bias {
            q = q.broadcast_add(bq)?;
            k = k.broadcast_add(bk)?;
            v = v.broadcast_add(bv)?;
        }
        let heads = |t: Tensor, n: usize| -> candle_core::Result<Tensor> {
            t.reshape((1, seq_len, n, cfg.head_dim))?.transpose(1, 2)?.contiguous()
        };
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
        let y = y
            .reshape((1, cfg.n_head, seq_len, cfg.head_dim))?
            .transpose(1, 2)?
            .reshape((1, seq_len, cfg.n_head * cfg.head_dim))?;
        Ok(attn.o.forward(&y)?)
    }
}

/// Additive mask of shape (group * seq_len, start + seq_len): row `g * seq_len + i` is query `i`.
fn causal_mask(seq_len: usize, start: usize, group: usize, device: &Device) -> Result<Option<Tensor>> {
    if seq_len == 1 {
        return Ok(None);
    }
    let total = start + seq_len;
    let row: Vec<f32> = (0..seq_len)
        .flat_map(|i| (0..total).map(move |j| if j > start + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    let mask = Tensor::from_vec(row, (seq_len, total), device)?;
    Ok(Some(mask.repeat((group, 1))?))
}

fn rope_tables(cfg: &ModelConfig, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = cfg.head_dim / 2;
    let inv_freq: Vec<f32> =
        (0..half).map(|i| 1.0 / cfg.rope_theta.powf(2.0 * i as f64 / cfg.head_dim as f64) as f32).collect();
    let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
    let positions = Tensor::arange(0u32, cfg.context_length as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((cfg.context_length, 1))?;
    let angles = positions.broadcast_mul(&inv_freq)?;
    Ok((angles.cos()?, angles.sin()?))
}
