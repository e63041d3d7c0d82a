//! The decoder's forward pass on the CPU kernels, for models whose matrices the kernels pack (Q8_0,
//! and the Q4_K, Q5_0, Q6_K and Q8_0 of Q4_K_M files): no candle ops and no allocation
//! per step. Buffers are reused from one call to the next; RMSNorm, RoPE, SiLU·up and the residual
//! adds run in place; q, k and v come from one fused matmul and gate/up from another; attention
//! reads the key/value cache where it lies; every matmul, the 49152-row lm_head included, is spread
//! over the kernels' thread pool.
//!
//! candle's version of the same pass ran ~25 ops per layer and token, each allocating its output,
//! and cost more than the matmuls themselves in decode.

use std::sync::Mutex;

use candle_core::Device;

use crate::config::{Architecture, ModelConfig};
use crate::error::Result;
use crate::gguf::{GgufFile, MappedMatrix};
use crate::kernels::{add_in_place, attention, matmul, rms_norm_rows, rope_rows, silu_mul_rows, AttentionShape, GgmlMatrix, Isa, PackedMatrix, RopeStyle};
use crate::kv_cache::KvCache;

struct HostLayer {
    attn_norm: Vec<f32>,
    /// q ‖ k ‖ v stacked along the output rows.
    qkv: PackedMatrix,
    /// Qwen2's q ‖ k ‖ v biases.
    qkv_bias: Option<Vec<f32>>,
    /// Qwen3's per-head RMSNorm weights of q and k.
    qk_norm: Option<[Vec<f32>; 2]>,
    o: PackedMatrix,
    ffn_norm: Vec<f32>,
    /// gate ‖ up stacked along the output rows.
    gate_up: PackedMatrix,
    down: PackedMatrix,
}

/// Buffers of one forward pass, sized for the longest chunk seen so far.
#[derive(Default)]
struct Scratch {
    normed: Vec<f32>,
    qkv: Vec<f32>,
    head: Vec<f32>,
    attn: Vec<f32>,
    proj: Vec<f32>,
    gate_up: Vec<f32>,
    act: Vec<f32>,
}

pub(crate) struct HostModel {
    isa: Isa,
    shape: AttentionShape,
    n_embd: usize,
    n_ff: usize,
    eps: f32,
    context_length: usize,
    rope: RopeStyle,
    /// cos and sin of each position's head_dim/2 angles, position-major.
    cos: Vec<f32>,
    sin: Vec<f32>,
    layers: Vec<HostLayer>,
    output_norm: Vec<f32>,
    lm_head: PackedMatrix,
    /// Taken by one forward pass at a time; a concurrent one uses fresh buffers.
    scratch: Mutex<Scratch>,
}

/// Dequantized values of a small tensor (norm weights, biases).
fn dense(gguf: &mut GgufFile, name: &str) -> Result<Vec<f32>> {
    Ok(gguf.tensor(name, &Device::Cpu)?.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1()?)
}

/// Packs the file's matrices `names` stacked along their output rows, straight from the mapped
/// file; None when a type has no kernel or the shapes do not fit.
pub(crate) fn pack_matrices(isa: Isa, gguf: &GgufFile, names: &[String]) -> Result<Option<PackedMatrix>> {
    let matrices = names.iter().map(|name| gguf.matrix(name)).collect::<Result<Vec<MappedMatrix>>>()?;
    let ggml: Vec<GgmlMatrix> = matrices.iter().map(|m| GgmlMatrix { dtype: m.dtype, data: m.data, rows: m.rows, k: m.k }).collect();
    let packed = PackedMatrix::from_ggml(isa, &ggml);
    gguf.release(&matrices);
    Ok(packed)
}

impl HostModel {
    /// Loads the layers for the kernels of `isa`; None when a matrix's type has no kernel or a shape
    /// does not fit the kernels (candle's forward pass then runs instead). `cos`/`sin`: the RoPE tables.
    pub(crate) fn load(gguf: &mut GgufFile, config: &ModelConfig, isa: Isa, cos: Vec<f32>, sin: Vec<f32>) -> Result<Option<Self>> {
        let shape = AttentionShape { n_head: config.n_head, n_kv_head: config.n_kv_head, head_dim: config.head_dim };
        if isa == Isa::Generic || !shape.supported() || !config.head_dim.is_multiple_of(2) {
            return Ok(None);
        }
        let head_name = if gguf.has_tensor("output.weight") { "output.weight" } else { "token_embd.weight" };
        let Some(lm_head) = pack_matrices(isa, gguf, &[head_name.to_string()])? else { return Ok(None) };
        let mut layers = Vec::with_capacity(config.n_layer);
        for layer in 0..config.n_layer {
            let name = |suffix: &str| format!("blk.{layer}.{suffix}");
            let weights = |names: &[&str]| names.iter().map(|n| name(&format!("{n}.weight"))).collect::<Vec<_>>();
            let matrix = |names: &[&str]| pack_matrices(isa, gguf, &weights(names));
            let (Some(qkv), Some(o), Some(gate_up), Some(down)) =
                (matrix(&["attn_q", "attn_k", "attn_v"])?, matrix(&["attn_output"])?, matrix(&["ffn_gate", "ffn_up"])?, matrix(&["ffn_down"])?)
            else {
                return Ok(None);
            };
            let qkv_bias = match config.architecture {
                Architecture::Qwen2 => {
                    Some([dense(gguf, &name("attn_q.bias"))?, dense(gguf, &name("attn_k.bias"))?, dense(gguf, &name("attn_v.bias"))?].concat())
                }
                _ => None,
            };
            let qk_norm = match config.architecture {
                Architecture::Qwen3 => Some([dense(gguf, &name("attn_q_norm.weight"))?, dense(gguf, &name("attn_k_norm.weight"))?]),
                _ => None,
            };
            layers.push(HostLayer {
                attn_norm: dense(gguf, &name("attn_norm.weight"))?,
                qkv,
                qkv_bias,
                qk_norm,
                o,
                ffn_norm: dense(gguf, &name("ffn_norm.weight"))?,
                gate_up,
                down,
            });
        }
        Ok(Some(Self {
            isa,
            shape,
            n_embd: config.n_embd,
            n_ff: config.n_ff,
            eps: config.rms_eps as f32,
            context_length: config.context_length,
            rope: if config.architecture.rope_is_neox() { RopeStyle::Neox } else { RopeStyle::Interleaved },
            cos,
            sin,
            layers,
            output_norm: dense(gguf, "output_norm.weight")?,
            lm_head,
            scratch: Mutex::new(Scratch::default()),
        }))
    }

    /// Runs the rows `x` (one embedding per new token, after the `cache`'s positions) through the
    /// layers, writes their keys and values into the cache (the caller advances it), and returns
    /// the logits of the last row, or of every row when `all_rows`.
    pub(crate) fn forward(&self, mut x: Vec<f32>, cache: &mut KvCache, all_rows: bool) -> Vec<f32> {
        let mut fresh = Scratch::default();
        let mut guard = self.scratch.try_lock().ok();
        let s = guard.as_deref_mut().unwrap_or(&mut fresh);
        let (isa, d, ff) = (self.isa, self.n_embd, self.n_ff);
        let AttentionShape { n_head, n_kv_head, head_dim } = self.shape;
        let (q_width, kv_width) = (n_head * head_dim, n_kv_head * head_dim);
        let qkv_width = q_width + 2 * kv_width;
        let rows = x.len() / d;
        let start = cache.len();
        s.normed.resize(rows * d, 0.0);
        s.qkv.resize(rows * qkv_width, 0.0);
        s.attn.resize(rows * q_width, 0.0);
        s.proj.resize(rows * d, 0.0);
        s.gate_up.resize(rows * 2 * ff, 0.0);
        s.act.resize(rows * ff, 0.0);
        for (index, layer) in self.layers.iter().enumerate() {
            rms_norm_rows(isa, &x, &layer.attn_norm, self.eps, &mut s.normed);
            matmul(&s.normed, &layer.qkv, &mut s.qkv);
            if let Some(bias) = &layer.qkv_bias {
                for row in s.qkv.chunks_exact_mut(qkv_width) {
                    add_in_place(isa, row, bias);
                }
            }
            if let Some([q_norm, k_norm]) = &layer.qk_norm {
                for row in s.qkv.chunks_exact_mut(qkv_width) {
                    let (q, k) = row.split_at_mut(q_width);
                    for (part, weight) in [(q, q_norm), (&mut k[..kv_width], k_norm)] {
                        s.head.clear();
                        s.head.extend_from_slice(part);
                        rms_norm_rows(isa, &s.head, weight, self.eps, part);
                    }
                }
            }
            rope_rows(isa, &mut s.qkv, qkv_width, n_head + n_kv_head, head_dim, start, &self.cos, &self.sin, self.rope);
            let kv = cache.host_layer_mut(index, self.shape, start + rows, self.context_length);
            for (i, row) in s.qkv.chunks_exact(qkv_width).enumerate() {
                let (keys, values) = row[q_width..].split_at(kv_width);
                kv.write(start + i, keys, values);
            }
            attention(isa, cache.host_layer(index), &s.qkv, qkv_width, start, &mut s.attn);
            matmul(&s.attn, &layer.o, &mut s.proj);
            add_in_place(isa, &mut x, &s.proj);
            rms_norm_rows(isa, &x, &layer.ffn_norm, self.eps, &mut s.normed);
            matmul(&s.normed, &layer.gate_up, &mut s.gate_up);
            silu_mul_rows(isa, &s.gate_up, &mut s.act, ff);
            matmul(&s.act, &layer.down, &mut s.proj);
            add_in_place(isa, &mut x, &s.proj);
        }
        let x = if all_rows { &x[..] } else { &x[(rows - 1) * d..] };
        let normed = &mut s.normed[..x.len()];
        rms_norm_rows(isa, x, &self.output_norm, self.eps, normed);
        let mut logits = vec![0f32; x.len() / d * self.lm_head.rows()];
        matmul(normed, &self.lm_head, &mut logits);
        logits
    }
}
