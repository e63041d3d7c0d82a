//! A key/value cache the caller owns, so a prompt prefix can be prefilled once and reused.

use std::sync::Arc;

use candle_core::{Result, Tensor};

use crate::kernels::{AttentionShape, KvLayer};

/// Per-layer keys and values in preallocated buffers: candle tensors of shape (1, n_kv_head,
/// capacity, head_dim), or, for the CPU kernels' forward pass, host buffers in the attention
/// kernel's layout. A cache is filled by one model, so only one of the two is used.
///
/// `snapshot` is cheap (reference-counted buffers); buffers shared with a snapshot are copied before
/// the next write, so restoring a snapshot after other work is always exact.
#[derive(Debug, Default)]
pub struct KvCache {
    layers: Vec<(Tensor, Tensor)>,
    host: Vec<Arc<KvLayer>>,
    /// The token ids whose keys and values are cached, in order.
    tokens: Vec<u32>,
    shared: bool,
}

/// Room added beyond the immediate need, so decoding does not reallocate every token.
const GROWTH: usize = 256;

impl KvCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of positions already in the cache.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// How many leading tokens of `tokens` are already cached.
    pub fn common_prefix(&self, tokens: &[u32]) -> usize {
        self.tokens.iter().zip(tokens).take_while(|(a, b)| a == b).count()
    }

    /// How many leading tokens of a prompt a prefill can take from the cache: the common prefix,
    /// less the last token, which is always recomputed because its logits are the result.
    pub fn reusable_prefix(&self, prompt: &[u32]) -> usize {
        self.common_prefix(prompt).min(prompt.len().saturating_sub(1))
    }

    /// A snapshot of the current state; `restore` it later to rewind to this point.
    pub fn snapshot(&mut self) -> KvCache {
        self.shared = true;
        self.share()
    }

    /// Rewinds to a snapshot taken earlier (of this or another cache of the same model).
    pub fn restore(&mut self, snapshot: &KvCache) {
        *self = snapshot.share();
    }

    fn share(&self) -> KvCache {
        KvCache { layers: self.layers.clone(), host: self.host.clone(), tokens: self.tokens.clone(), shared: true }
    }

    /// Drops positions from `len` on; later tokens are computed again.
    pub fn truncate(&mut self, len: usize) {
        self.tokens.truncate(len);
    }

    /// Writes `k`/`v` of shape (1, n_kv_head, new, head_dim) for `layer` at the current end and returns
    /// views of everything cached so far. Call `advance` once all layers have appended.
    pub(crate) fn append(&mut self, layer: usize, k: &Tensor, v: &Tensor, context_limit: usize) -> Result<(Tensor, Tensor)> {
        let (_, n_kv, new, head_dim) = k.dims4()?;
        let len = self.tokens.len();
        let needed = len + new;
        if layer == self.layers.len() {
            let capacity = (needed + GROWTH).min(context_limit.max(needed));
            let zeros = Tensor::zeros((1, n_kv, capacity, head_dim), k.dtype(), k.device())?;
            self.layers.push((zeros.clone(), zeros.copy()?));
        } else {
            let capacity = self.layers[layer].0.dim(2)?;
            // Each layer is written once per forward pass, so while `shared` every write copies first.
            if needed > capacity || self.shared {
                let new_capacity = if needed > capacity { (needed + GROWTH).max(capacity * 2).min(context_limit.max(needed)) } else { capacity };
                let (old_k, old_v) = &self.layers[layer];
                self.layers[layer] = (grow(old_k, len, new_capacity)?, grow(old_v, len, new_capacity)?);
            }
        }
        let (k_buf, v_buf) = &self.layers[layer];
        k_buf.slice_set(&k.contiguous()?, 2, len)?;
        v_buf.slice_set(&v.contiguous()?, 2, len)?;
        Ok((k_buf.narrow(2, 0, needed)?, v_buf.narrow(2, 0, needed)?))
    }

    /// The host buffers of `layer`, grown to hold `needed` positions, for the CPU forward pass to
    /// write the new positions into (copied first while a snapshot shares them).
    pub(crate) fn host_layer_mut(&mut self, layer: usize, shape: AttentionShape, needed: usize, context_limit: usize) -> &mut KvLayer {
        if layer == self.host.len() {
            self.host.push(Arc::new(KvLayer::new(shape)));
        }
        let buffers = Arc::make_mut(&mut self.host[layer]);
        let capacity = buffers.capacity();
        if needed > capacity {
            buffers.reserve((needed + GROWTH).max(capacity * 2).min(context_limit.max(needed)));
        }
        buffers
    }

    /// The host buffers of `layer`, as the last `host_layer_mut` left them.
    pub(crate) fn host_layer(&self, layer: usize) -> &KvLayer {
        &self.host[layer]
    }

    /// Records `tokens` as written by every layer.
    pub(crate) fn advance(&mut self, tokens: &[u32]) {
        self.tokens.extend_from_slice(tokens);
        self.shared = false;
    }
}

/// The working cache, plus a snapshot of the last answered prompt kept aside: a question about the
/// same document as the one before shares that prompt's instructions and passages, and continues
/// from them instead of reading the document again (the checks after an answer rewind the working
/// cache to other prompts). Costs one more copy of the cached keys and values.
#[derive(Debug, Default)]
pub struct PromptCache {
    working: KvCache,
    kept: Option<KvCache>,
}

impl PromptCache {
    pub fn new(working: KvCache) -> Self {
        Self { working, kept: None }
    }

    /// The cache every generation and scoring reads and writes.
    pub fn working(&mut self) -> &mut KvCache {
        &mut self.working
    }

    /// Before reading `prompt`: continues from the kept snapshot when it holds more of it.
    pub fn continue_longest(&mut self, prompt: &[u32]) {
        if let Some(kept) = &self.kept {
            if kept.common_prefix(prompt) > self.working.common_prefix(prompt) {
                self.working.restore(kept);
            }
        }
    }

    /// Keeps the working cache as it is now (a prompt and its answer) for the next question.
    pub fn keep(&mut self) {
        self.kept = Some(self.working.snapshot());
    }
}

fn grow(buffer: &Tensor, len: usize, capacity: usize) -> Result<Tensor> {
    let (b, h, _, d) = buffer.dims4()?;
    let fresh = Tensor::zeros((b, h, capacity, d), buffer.dtype(), buffer.device())?;
    if len > 0 {
        fresh.slice_set(&buffer.narrow(2, 0, len)?.contiguous()?, 2, 0)?;
    }
    Ok(fresh)
}
