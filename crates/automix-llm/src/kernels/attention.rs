//! Causal grouped-query attention over a CPU key/value cache, read in place: q·K, softmax and ·V per
//! head, for one decode step or a prefill chunk, spread over the thread pool by (key/value head,
//! block of query rows).

use super::vector::softmax;
use super::{for_each_range, multiversion, Isa, SendPtr};

/// Positions per key block: keys are stored transposed in blocks of this many, so scoring a block
/// is `head_dim` multiply-adds of this many lanes.
pub const KEYS_PER_BLOCK: usize = 16;
/// Query rows (query heads × positions that share a key/value head) per work item in prefill.
const ROWS_PER_ITEM: usize = 16;

/// Head counts and size of an attention layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionShape {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_dim: usize,
}

impl AttentionShape {
    /// Whether the kernel handles this shape: 1 to 8 whole lane blocks per head, whole groups of
    /// query heads.
    pub fn supported(&self) -> bool {
        (KEYS_PER_BLOCK..=8 * KEYS_PER_BLOCK).contains(&self.head_dim)
            && self.head_dim.is_multiple_of(KEYS_PER_BLOCK)
            && self.n_kv_head > 0 && self.n_head.is_multiple_of(self.n_kv_head)
    }
}

thread_local! {
    /// Each thread's attention scores: rows × visible positions of one work item.
    static SCORES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One layer's cached keys and values, head-major so that a head's attention streams through
/// contiguous memory. Keys: [kv head][position block][head_dim][16 positions]; values: [kv
/// head][position][head_dim]. Both grow by whole key blocks.
#[derive(Debug, Clone)]
pub struct KvLayer {
    shape: AttentionShape,
    /// Positions each head's part holds.
    capacity: usize,
    keys: Vec<f32>,
    values: Vec<f32>,
}

impl KvLayer {
    pub fn new(shape: AttentionShape) -> Self {
        Self { shape, capacity: 0, keys: Vec::new(), values: Vec::new() }
    }

    /// Positions it can hold without growing.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Grows to hold at least `positions` (rounded up to a whole key block); keeps what it holds.
    pub fn reserve(&mut self, positions: usize) {
        let positions = positions.next_multiple_of(KEYS_PER_BLOCK);
        if positions <= self.capacity {
            return;
        }
        let head_size = self.shape.head_dim * positions;
        let mut keys = vec![0f32; self.shape.n_kv_head * head_size];
        let mut values = vec![0f32; self.shape.n_kv_head * head_size];
        let old_size = self.shape.head_dim * self.capacity;
        if old_size > 0 {
            // Both layouts put a head's positions first to last, so each head's part moves whole.
            for (new, old) in [(&mut keys, &self.keys), (&mut values, &self.values)] {
                for (dst, src) in new.chunks_exact_mut(head_size).zip(old.chunks_exact(old_size)) {
                    dst[..old_size].copy_from_slice(src);
                }
            }
        }
        (self.keys, self.values, self.capacity) = (keys, values, positions);
    }

    /// Writes one position's keys and values (each `n_kv_head × head_dim`, head-major). Panics past
    /// the capacity.
    pub fn write(&mut self, position: usize, keys: &[f32], values: &[f32]) {
        assert!(position < self.capacity, "KV cache written past its capacity");
        let head_dim = self.shape.head_dim;
        let head_size = head_dim * self.capacity;
        let (block, lane) = (position / KEYS_PER_BLOCK, position % KEYS_PER_BLOCK);
        for (head, (k, v)) in keys.chunks_exact(head_dim).zip(values.chunks_exact(head_dim)).enumerate() {
            self.values[head * head_size + position * head_dim..][..head_dim].copy_from_slice(v);
            let block_keys = &mut self.keys[head * head_size + block * head_dim * KEYS_PER_BLOCK..][..head_dim * KEYS_PER_BLOCK];
            for (d, &k) in k.iter().enumerate() {
                block_keys[d * KEYS_PER_BLOCK + lane] = k;
            }
        }
    }

    fn head_keys(&self, block: usize, head: usize) -> &[f32] {
        let size = self.shape.head_dim * KEYS_PER_BLOCK;
        &self.keys[head * self.shape.head_dim * self.capacity + block * size..][..size]
    }

    /// Head `head`'s values, position-major.
    fn head_values(&self, head: usize) -> &[f32] {
        let head_size = self.shape.head_dim * self.capacity;
        &self.values[head * head_size..][..head_size]
    }
}

/// `out` (rows of `n_head × head_dim`) = softmax(q·Kᵀ/√d)·V for query rows at positions
/// `first_position..`, each attending to the cached positions up to and including its own. `q` holds
/// one row per position, its queries first, rows `q_stride` apart; the cache must already hold the
/// new positions.
pub fn attention(isa: Isa, kv: &KvLayer, q: &[f32], q_stride: usize, first_position: usize, out: &mut [f32]) {
    let shape = kv.shape;
    let AttentionShape { n_head, n_kv_head, head_dim } = shape;
    let group = n_head / n_kv_head;
    let q_width = n_head * head_dim;
    let positions = out.len() / q_width;
    assert!(shape.supported(), "attention: unsupported shape {shape:?}");
    assert_eq!(out.len(), positions * q_width, "attention: output is not whole rows");
    assert!(q.len() >= (positions.max(1) - 1) * q_stride + q_width, "attention: queries are shorter than the output");
    assert!(kv.capacity() >= first_position + positions, "attention: the cache does not hold the new positions");
    // In decode, one item per key/value head keeps its keys in cache for the whole group of queries.
    let rows_per_item = if positions == 1 { group } else { ROWS_PER_ITEM };
    let items_per_head = (positions * group).div_ceil(rows_per_item);
    let scale = 1.0 / (head_dim as f32).sqrt();
    let out_ptr = SendPtr(out.as_mut_ptr());
    let work = |items: std::ops::Range<usize>| {
        for item in items {
            let (head, block) = (item / items_per_head, item % items_per_head);
            let rows = block * rows_per_item..(positions * group).min((block + 1) * rows_per_item);
            SCORES.with(|scores| attend(isa, isa, kv, q, q_stride, first_position, head, rows.start, rows.end, scale, out_ptr, q_width, &mut scores.borrow_mut()));
        }
    };
    let parallel = n_kv_head * items_per_head > 1;
    for_each_range(n_kv_head * items_per_head, 1, parallel, work);
}

multiversion! {
/// Attention for query rows `first_row..end_row` (position × group member, flattened) of key/value
/// head `head`.
fn attend(kernels: Isa, kv: &KvLayer, q: &[f32], q_stride: usize, first_position: usize, head: usize, first_row: usize, end_row: usize, scale: f32, out: SendPtr<f32>, q_width: usize, scores: &mut Vec<f32>) {
    let rows = first_row..end_row;
    let AttentionShape { n_head, n_kv_head, head_dim } = kv.shape;
    let group = n_head / n_kv_head;
    let row_count = rows.len();
    let last_position = first_position + (rows.end - 1) / group;
    let stride = (last_position + 1).next_multiple_of(KEYS_PER_BLOCK);
    {
        scores.resize(row_count * stride, 0.0);
        // (query, keys it may see, output offset) per row.
        let row_info = |row: usize| {
            let (position, member) = (row / group, row % group);
            let query_head = head * group + member;
            let query = &q[position * q_stride + query_head * head_dim..][..head_dim];
            (query, first_position + position + 1, position * q_width + query_head * head_dim)
        };
        // q·K: one key block at a time, every row against it while it is in L1.
        let blocks = (last_position + 1).div_ceil(KEYS_PER_BLOCK);
        for block in 0..blocks {
            let keys = kv.head_keys(block, head);
            for (r, row) in rows.clone().enumerate() {
                let (query, visible, _) = row_info(row);
                if block * KEYS_PER_BLOCK >= visible {
                    continue;
                }
                // Four partial sums over d: one chain of multiply-adds would wait on each
                // instruction's latency.
                let mut lanes = [[0f32; KEYS_PER_BLOCK]; 4];
                for (q4, k4) in query.chunks_exact(4).zip(keys.chunks_exact(4 * KEYS_PER_BLOCK)) {
                    for ((lanes, &qd), k) in lanes.iter_mut().zip(q4).zip(k4.chunks_exact(KEYS_PER_BLOCK)) {
                        for i in 0..KEYS_PER_BLOCK {
                            lanes[i] = k[i].mul_add(qd, lanes[i]);
                        }
                    }
                }
                for (i, s) in scores[r * stride + block * KEYS_PER_BLOCK..][..KEYS_PER_BLOCK].iter_mut().enumerate() {
                    *s = (lanes[0][i] + lanes[1][i] + (lanes[2][i] + lanes[3][i])) * scale;
                }
            }
        }
        // softmax, then ·V.
        for (r, row) in rows.clone().enumerate() {
            let (_, visible, at) = row_info(row);
            let weights = &mut scores[r * stride..][..visible];
            softmax(weights);
            // SAFETY: each row's output slice belongs to this item alone, inside `out`.
            let out = unsafe { std::slice::from_raw_parts_mut(out.get().add(at), head_dim) };
            weighted_sum(kernels, kv, head, weights, out);
        }
    }
}
}

/// `out = Σ_j weights[j] · V[j]` for key/value head `head`, in explicit registers of the width of `kernels`
/// (see [`super::lanes`] for why not plain loops).
fn weighted_sum(kernels: Isa, kv: &KvLayer, head: usize, weights: &[f32], out: &mut [f32]) {
    let values = kv.head_values(head);
    let head_dim = kv.shape.head_dim;
    assert!(out.len() == head_dim && values.len() >= weights.len() * head_dim, "weighted_sum: slices do not match the shape");
    match kernels {
        // SAFETY: `kernels` is at most the detected set (attention's multiversion checked it), and
        // the assertion above bounds every load and store.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::weighted_sum_avx512(values.as_ptr(), head_dim, weights, out.as_mut_ptr()) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { x86::weighted_sum_avx2(values.as_ptr(), head_dim, weights, out.as_mut_ptr()) },
        _ => {
            out.fill(0.0);
            for (&w, value) in weights.iter().zip(values.chunks_exact(head_dim)) {
                for (o, &v) in out.iter_mut().zip(value) {
                    *o = v.mul_add(w, *o);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes::F32Lanes;
    use std::arch::x86_64::{__m256, __m512};

    /// Accumulator registers per pass over the positions: a head of up to 8 registers is summed in
    /// one pass, with every value row read once.
    const MAX_REGISTERS: usize = 8;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weighted_sum_avx512(values: *const f32, head_dim: usize, weights: &[f32], out: *mut f32) {
        weighted_sum::<__m512>(values, head_dim, weights, out)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weighted_sum_avx2(values: *const f32, head_dim: usize, weights: &[f32], out: *mut f32) {
        weighted_sum::<__m256>(values, head_dim, weights, out)
    }

    /// Passes over the positions, each summing up to `MAX_REGISTERS` registers of the head's columns.
    #[inline(always)]
    unsafe fn weighted_sum<L: F32Lanes>(values: *const f32, head_dim: usize, weights: &[f32], out: *mut f32) {
        let mut column = 0;
        while column < head_dim {
            let registers = ((head_dim - column) / L::WIDTH).min(MAX_REGISTERS);
            let (values, out) = (values.add(column), out.add(column));
            match registers {
                8 => columns::<L, 8>(values, head_dim, weights, out),
                7 => columns::<L, 7>(values, head_dim, weights, out),
                6 => columns::<L, 6>(values, head_dim, weights, out),
                5 => columns::<L, 5>(values, head_dim, weights, out),
                4 => columns::<L, 4>(values, head_dim, weights, out),
                3 => columns::<L, 3>(values, head_dim, weights, out),
                2 => columns::<L, 2>(values, head_dim, weights, out),
                1 => columns::<L, 1>(values, head_dim, weights, out),
                _ => unreachable!("head_dim is a multiple of 16, so of every register width"),
            }
            column += registers * L::WIDTH;
        }
    }

    /// `N` registers of columns, summed over every position (rows `head_dim` apart).
    #[inline(always)]
    unsafe fn columns<L: F32Lanes, const N: usize>(values: *const f32, head_dim: usize, weights: &[f32], out: *mut f32) {
        let mut acc = [L::zero(); N];
        for (position, &w) in weights.iter().enumerate() {
            let w = L::splat(w);
            let row = values.add(position * head_dim);
            for (n, acc) in acc.iter_mut().enumerate() {
                *acc = L::load(row.add(n * L::WIDTH)).mul_add(w, *acc);
            }
        }
        for (n, acc) in acc.iter().enumerate() {
            acc.store(out.add(n * L::WIDTH));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against plain loops over (position, head) in f64: decode and prefill rows, several GQA
    /// groupings, a cache filled before the new rows, on every instruction set this CPU has.
    #[test]
    fn attention_matches_plain_loops_on_every_path() {
        let mut seed = 11u32;
        let mut random = move || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1 << 24) as f32 * 4.0 - 2.0
        };
        for isa in Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic) {
            for (shape, cached, new) in [
                (AttentionShape { n_head: 9, n_kv_head: 3, head_dim: 64 }, 0, 37),
                (AttentionShape { n_head: 9, n_kv_head: 3, head_dim: 64 }, 37, 1),
                (AttentionShape { n_head: 4, n_kv_head: 4, head_dim: 16 }, 5, 20),
                (AttentionShape { n_head: 8, n_kv_head: 2, head_dim: 32 }, 17, 1),
            ] {
                let total = cached + new;
                let kv_width = shape.n_kv_head * shape.head_dim;
                let q_width = shape.n_head * shape.head_dim;
                let keys: Vec<f32> = (0..total * kv_width).map(|_| random()).collect();
                let values: Vec<f32> = (0..total * kv_width).map(|_| random()).collect();
                let q_stride = q_width + 3;
                let q: Vec<f32> = (0..new * q_stride).map(|_| random()).collect();
                // Grown after the cached positions, as decoding does: what was written moves along.
                let mut kv = KvLayer::new(shape);
                kv.reserve(cached.max(1));
                for p in 0..total {
                    if p == cached {
                        kv.reserve(total + KEYS_PER_BLOCK);
                    }
                    kv.write(p, &keys[p * kv_width..][..kv_width], &values[p * kv_width..][..kv_width]);
                }
                let mut out = vec![0f32; new * q_width];
                attention(isa, &kv, &q, q_stride, cached, &mut out);
                let group = shape.n_head / shape.n_kv_head;
                let d = shape.head_dim;
                for i in 0..new {
                    for h in 0..shape.n_head {
                        let kvh = h / group;
                        let query = &q[i * q_stride + h * d..][..d];
                        let visible = cached + i + 1;
                        let logits: Vec<f64> = (0..visible)
                            .map(|j| (0..d).map(|x| query[x] as f64 * keys[j * kv_width + kvh * d + x] as f64).sum::<f64>() / (d as f64).sqrt())
                            .collect();
                        let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                        let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
                        let sum: f64 = weights.iter().sum();
                        for x in 0..d {
                            let expected: f64 = (0..visible).map(|j| weights[j] / sum * values[j * kv_width + kvh * d + x] as f64).sum();
                            let got = out[i * q_width + h * d + x] as f64;
                            assert!((got - expected).abs() < 1e-4, "{isa:?} {shape:?} cached {cached}: row {i} head {h} dim {x}: {got} vs {expected}");
                        }
                    }
                }
            }
        }
    }
}
