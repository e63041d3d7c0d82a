//! The BERT encoder forward pass behind the sentence embeddings.
//!
//! Unlike candle-transformers' `BertModel` (kept as the baseline of `automix bench --embedder`):
//! - the matmuls run in int8 on CPUs with AVX-512 VNNI (the chat model's kernel);
//! - query, key and value are one matmul, with the attention scale folded into the query weights;
//! - on the CPU, GELU and the softmax are the chat model's multi-threaded kernels (vectorised with
//!   AVX-512), and the softmax skips padding keys instead of adding a mask;
//! - layer norm is candle's fused op.

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{Module, VarBuilder};
use candle_transformers::models::bert::Config;

use automix_llm::kernels::{self, gelu_erf_in_place, softmax_prefix_in_place, PackedQ8};

/// A dense layer `x · Wᵀ + b`: int8 where the CPU kernels run, else candle's f32 matmul.
enum Dense {
    Int8 { weight: PackedQ8, bias: Tensor },
    Float(candle_nn::Linear),
}

impl Dense {
    fn new(weight: Tensor, bias: Tensor, int8: bool) -> candle_core::Result<Self> {
        if int8 {
            if let Some(packed) = PackedQ8::quantize(&weight)? {
                return Ok(Self::Int8 { weight: packed, bias });
            }
        }
        Ok(Self::Float(candle_nn::Linear::new(weight, Some(bias))))
    }

    /// Loads the layers under `prefixes`, stacked along their outputs into one matmul, each
    /// scaled by its factor.
    fn load_fused(vb: &VarBuilder, prefixes: &[(&str, f64)], int8: bool) -> candle_core::Result<Self> {
        let mut weights = Vec::with_capacity(prefixes.len());
        let mut biases = Vec::with_capacity(prefixes.len());
        for (prefix, scale) in prefixes {
            let layer = vb.pp(*prefix);
            let weight = layer.get_unchecked_dtype("weight", DType::F32)?;
            let bias = layer.get_unchecked_dtype("bias", DType::F32)?;
            weights.push((weight * *scale)?);
            biases.push((bias * *scale)?);
        }
        Self::new(Tensor::cat(&weights, 0)?, Tensor::cat(&biases, 0)?, int8)
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Self::Int8 { weight, bias } => weight.forward(x)?.broadcast_add(bias),
            Self::Float(linear) => linear.forward(x),
        }
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(vb: &VarBuilder, eps: f64) -> candle_core::Result<Self> {
        let vb = vb.pp("LayerNorm");
        Ok(Self { weight: vb.get_unchecked_dtype("weight", DType::F32)?, bias: vb.get_unchecked_dtype("bias", DType::F32)?, eps: eps as f32 })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    query_key_value: Dense,
    attention_output: Dense,
    attention_norm: LayerNorm,
    intermediate: Dense,
    output: Dense,
    output_norm: LayerNorm,
}

/// A BERT encoder returning the last hidden states.
pub(super) struct BertEncoder {
    word_embeddings: Tensor,
    position_embeddings: Tensor,
    token_type_embedding: Tensor,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
    heads: usize,
    /// Whether the element-wise CPU kernels apply (they have no GPU version).
    cpu: bool,
}

/// Which keys each text's attention may look at.
enum KeyMask {
    /// The number of real tokens per text; the rest is right padding (CPU kernels).
    RealTokens(Vec<usize>),
    /// 0 for real tokens, a large negative number for padding, shaped (batch, 1, 1, tokens).
    Bias(Tensor),
}

impl BertEncoder {
    pub(super) fn load(vb: VarBuilder, config: &Config, device: &Device) -> candle_core::Result<Self> {
        let vb = if vb.contains_tensor("bert.embeddings.word_embeddings.weight") { vb.pp("bert") } else { vb };
        let int8 = device.is_cpu() && kernels::available();
        let heads = config.num_attention_heads;
        if heads == 0 || !config.hidden_size.is_multiple_of(heads) {
            candle_core::bail!("hidden size {} is not divisible into {heads} attention heads", config.hidden_size);
        }
        let query_scale = 1.0 / ((config.hidden_size / heads) as f64).sqrt();
        let eps = config.layer_norm_eps;
        let embeddings = vb.pp("embeddings");
        let get = |vb: &VarBuilder, name: &str| vb.get_unchecked_dtype(name, DType::F32);
        let layers = (0..config.num_hidden_layers)
            .map(|index| {
                let layer = vb.pp(format!("encoder.layer.{index}"));
                let attention = layer.pp("attention");
                let self_attention = attention.pp("self");
                Ok(Layer {
                    // Scaling the query weights once spares a pass over every attention score.
                    query_key_value: Dense::load_fused(&self_attention, &[("query", query_scale), ("key", 1.0), ("value", 1.0)], int8)?,
                    attention_output: Dense::load_fused(&attention.pp("output"), &[("dense", 1.0)], int8)?,
                    attention_norm: LayerNorm::load(&attention.pp("output"), eps)?,
                    intermediate: Dense::load_fused(&layer.pp("intermediate"), &[("dense", 1.0)], int8)?,
                    output: Dense::load_fused(&layer.pp("output"), &[("dense", 1.0)], int8)?,
                    output_norm: LayerNorm::load(&layer.pp("output"), eps)?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            word_embeddings: get(&embeddings, "word_embeddings.weight")?,
            position_embeddings: get(&embeddings, "position_embeddings.weight")?,
            token_type_embedding: get(&embeddings, "token_type_embeddings.weight")?.get(0)?,
            embedding_norm: LayerNorm::load(&embeddings, eps)?,
            layers,
            heads,
            cpu: device.is_cpu(),
        })
    }

    /// Hidden states (batch, tokens, hidden) for token ids (batch, tokens) of single-segment
    /// texts; `mask` (batch, tokens) is 1 for real tokens and 0 for padding, which must be on the
    /// right.
    pub(super) fn forward(&self, ids: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        if tokens > self.position_embeddings.dim(0)? {
            candle_core::bail!("{tokens} tokens exceed the model's {} positions", self.position_embeddings.dim(0)?);
        }
        let words = self.word_embeddings.index_select(&ids.flatten_all()?, 0)?.reshape((batch, tokens, ()))?;
        let positions = self.position_embeddings.narrow(0, 0, tokens)?;
        let embedded = words.broadcast_add(&positions)?.broadcast_add(&self.token_type_embedding)?;
        let mut hidden = self.embedding_norm.forward(&embedded)?;
        let key_mask = if self.cpu {
            KeyMask::RealTokens(mask.sum(1)?.to_vec1::<u32>()?.into_iter().map(|count| count as usize).collect())
        } else {
            // Padding keys get a large negative score, so softmax gives them no weight.
            KeyMask::Bias(mask.to_dtype(DType::F32)?.affine(1e9, -1e9)?.reshape((batch, 1, 1, tokens))?)
        };
        for layer in &self.layers {
            hidden = self.layer_forward(layer, &hidden, &key_mask)?;
        }
        Ok(hidden)
    }

    fn layer_forward(&self, layer: &Layer, hidden: &Tensor, key_mask: &KeyMask) -> candle_core::Result<Tensor> {
        let (batch, tokens, width) = hidden.dims3()?;
        let head_size = width / self.heads;
        let qkv = layer.query_key_value.forward(hidden)?.reshape((batch, tokens, 3, self.heads, head_size))?;
        let heads_first = |part: usize| qkv.narrow(2, part, 1)?.squeeze(2)?.transpose(1, 2)?.contiguous();
        let (query, key, value) = (heads_first(0)?, heads_first(1)?, heads_first(2)?);
        let scores = query.matmul(&key.t()?)?;
        let probabilities = match key_mask {
            KeyMask::RealTokens(counts) => {
                softmax_prefix_in_place(&scores, counts)?;
                scores
            }
            KeyMask::Bias(bias) => candle_nn::ops::softmax_last_dim(&scores.broadcast_add(bias)?)?,
        };
        let context = probabilities.matmul(&value)?.transpose(1, 2)?.reshape((batch, tokens, width))?;
        let attended = layer.attention_norm.forward(&(layer.attention_output.forward(&context)? + hidden)?)?;
        let intermediate = layer.intermediate.forward(&attended)?;
        let activated = if self.cpu {
            gelu_erf_in_place(&intermediate)?;
            intermediate
        } else {
            intermediate.gelu_erf()?
        };
        layer.output_norm.forward(&(layer.output.forward(&activated)? + &attended)?)
    }
}

/// Mean of the hidden states over real tokens, L2-normalised: one unit vector per text.
pub fn mean_pool_normalized(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
    let mean = summed.broadcast_div(&counts)?;
    let norms = mean.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
    mean.broadcast_div(&norms)
}
