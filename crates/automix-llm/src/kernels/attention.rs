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
            && self.n_kv_head > 0
            && self.n_head.is_multiple_of(self.n_kv_head)
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
            // Latest rows first: they see the most positions, so the threads' last items are the
            // cheapest and finish together.
            let (head, block) = (item % n_kv_head, items_per_head - 1 - item / n_kv_head);
            let rows = block * rows_per_item..(positions * group).min((block + 1) * rows_per_item);
            SCORES.with(|scores| {
                attend(isa, isa, kv, q, q_stride, first_position, head, rows.start, rows.end, scale, out_ptr, q_width, &mut scores.borrow_mut())
            });
        }
    };
    let parallel = n_kv_head * items_per_head > 1;
    for_each_range(n_kv_head * items_per_head, 1, parallel, work);
}

multiversion! {
/// Attention for query rows `first_row..end_row` (position × group member, flattened) of key/value
/// head `head`. The multiply-adds run in explicit registers of `kernels` (see [`super::lanes`] for
/// why not plain loops), a few rows at a time so each key and value read from memory serves all of
/// them; softmax is plain Rust, vectorised by `multiversion!`.
fn attend(kernels: Isa, kv: &KvLayer, q: &[f32], q_stride: usize, first_position: usize, head: usize, first_row: usize, end_row: usize, scale: f32, out: SendPtr<f32>, q_width: usize, scores: &mut Vec<f32>) {
    let rows = first_row..end_row;
    let AttentionShape { n_head, n_kv_head, head_dim } = kv.shape;
    let group = n_head / n_kv_head;
    let row_count = rows.len();
    // Positions the last row sees; earlier rows see fewer, and their weights past that are zero.
    let seen = first_position + (rows.end - 1) / group + 1;
    let stride = seen.next_multiple_of(KEYS_PER_BLOCK);
    scores.resize(row_count * stride, 0.0);
    let position_of = |row: usize| row / group;
    let query_head = |row: usize| head * group + row % group;
    let queries: Vec<*const f32> = rows.clone().map(|row| q[position_of(row) * q_stride + query_head(row) * head_dim..][..head_dim].as_ptr()).collect();
    // SAFETY: each row's output belongs to this item alone, inside `out`.
    let outs: Vec<*mut f32> = rows.clone().map(|row| unsafe { out.get().add(position_of(row) * q_width + query_head(row) * head_dim) }).collect();
    let seen_by = |row: usize| first_position + position_of(row) + 1;
    let dot = Dot { kv, head, queries: &queries, scale, scores: scores.as_mut_ptr(), stride, blocks: seen.div_ceil(KEYS_PER_BLOCK) };
    debug_assert!(scores.len() >= queries.len() * stride, "the scores hold fewer rows than the queries");
    dot.run(kernels);
    for (r, row) in rows.clone().enumerate() {
        let weights = &mut scores[r * stride..][..seen];
        let (visible, hidden) = weights.split_at_mut(seen_by(row));
        softmax(visible);
        hidden.fill(0.0);
    }
    let values = kv.head_values(head);
    assert!(values.len() >= seen * head_dim, "attention: the values do not hold the positions seen");
    WeightedSum { values: values.as_ptr(), head_dim, weights: scores.as_ptr(), stride, positions: seen, outs: &outs }.run(kernels);
}
}

/// Scores `q·K/√d` of some query rows against one key/value head's keys, `blocks` key blocks of
/// `KEYS_PER_BLOCK` positions, into `scores` (rows `stride` apart).
struct Dot<'a> {
    kv: &'a KvLayer,
    head: usize,
    queries: &'a [*const f32],
    scale: f32,
    scores: *mut f32,
    stride: usize,
    blocks: usize,
}

impl Dot<'_> {
    fn run(&self, kernels: Isa) {
        let head_dim = self.kv.shape.head_dim;
        debug_assert!(self.kv.shape.supported(), "attention: unsupported shape {:?}", self.kv.shape);
        debug_assert!(self.blocks * KEYS_PER_BLOCK <= self.stride, "{} key blocks do not fit score rows of {}", self.blocks, self.stride);
        debug_assert!(self.blocks * KEYS_PER_BLOCK <= self.kv.capacity(), "{} key blocks past the cache's capacity", self.blocks);
        debug_assert!(self.head < self.kv.shape.n_kv_head, "key/value head {} of {}", self.head, self.kv.shape.n_kv_head);
        debug_assert!(head_dim.is_multiple_of(KEYS_PER_BLOCK), "head_dim {head_dim} is not whole registers");
        match kernels {
            // SAFETY: `kernels` is at most the detected set (the multiversion of `attend` checked
            // it); queries are `head_dim` long, scores `blocks` key blocks wide, keys hold the blocks.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::dot_avx512(self) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::AvxVnni => unsafe { x86::dot_avx2(self) },
            _ => unreachable!("the attention kernels run only where the x86 kernels do (kernels::available)"),
        }
    }
}

/// `out_r = Σ_j weights_r[j] · V[j]` over `positions` value rows (`head_dim` apart) for some rows
/// of weights (`stride` apart), each into its own `head_dim` floats.
struct WeightedSum<'a> {
    values: *const f32,
    head_dim: usize,
    weights: *const f32,
    stride: usize,
    positions: usize,
    outs: &'a [*mut f32],
}

impl WeightedSum<'_> {
    fn run(&self, kernels: Isa) {
        // Whole registers of columns (16 floats, which both sets divide); fewer would loop forever.
        debug_assert!(self.head_dim > 0 && self.head_dim.is_multiple_of(KEYS_PER_BLOCK), "head_dim {} is not whole registers", self.head_dim);
        debug_assert!(self.positions <= self.stride, "{} positions in weight rows of {}", self.positions, self.stride);
        match kernels {
            // SAFETY: as for `Dot::run`; values hold `positions` rows, weights `positions` per row.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::weighted_sum_avx512(self) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::AvxVnni => unsafe { x86::weighted_sum_avx2(self) },
            _ => unreachable!("the attention kernels run only where the x86 kernels do (kernels::available)"),
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::lanes::F32Lanes;
    use super::{Dot, WeightedSum, KEYS_PER_BLOCK};
    use std::arch::x86_64::{__m256, __m512};

    /// Registers of columns per pass of the weighted sum, per row.
    const COLUMN_REGISTERS: usize = 4;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot_avx512(dot: &Dot) {
        unsafe { dot_rows::<__m512, 8>(dot) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot_avx2(dot: &Dot) {
        unsafe { dot_rows::<__m256, 4>(dot) }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn weighted_sum_avx512(sum: &WeightedSum) {
        unsafe { weighted_rows::<__m512, 4>(sum) }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn weighted_sum_avx2(sum: &WeightedSum) {
        unsafe { weighted_rows::<__m256, 2>(sum) }
    }

    /// Every key block against up to `ROWS` query rows at a time: each block stays in L1 for all
    /// rows, and the rows' sums are independent chains that keep the multiply-add units busy.
    #[inline(always)]
    unsafe fn dot_rows<L: F32Lanes, const ROWS: usize>(dot: &Dot) {
        unsafe {
            for block in 0..dot.blocks {
                let keys = dot.kv.head_keys(block, dot.head).as_ptr();
                for (chunk, queries) in dot.queries.chunks(ROWS).enumerate() {
                    let scores = dot.scores.add(chunk * ROWS * dot.stride + block * KEYS_PER_BLOCK);
                    match queries.len() {
                        8 => dot_block::<L, 8>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        7 => dot_block::<L, 7>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        6 => dot_block::<L, 6>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        5 => dot_block::<L, 5>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        4 => dot_block::<L, 4>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        3 => dot_block::<L, 3>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        2 => dot_block::<L, 2>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                        _ => dot_block::<L, 1>(keys, dot.kv.shape.head_dim, queries, dot.scale, scores, dot.stride),
                    }
                }
            }
        }
    }

    /// `R` rows' scores for one key block (keys `[head_dim][KEYS_PER_BLOCK]`).
    #[inline(always)]
    unsafe fn dot_block<L: F32Lanes, const R: usize>(keys: *const f32, head_dim: usize, queries: &[*const f32], scale: f32, scores: *mut f32, stride: usize) {
        unsafe {
            // A key block is one AVX-512 register or two AVX2 ones: arrays of two, of which AVX-512
            // uses the first (its second load repeats the first and is optimised away).
            let registers = KEYS_PER_BLOCK / L::WIDTH;
            let mut acc = [[L::zero(); 2]; R];
            for d in 0..head_dim {
                let k = [L::load(keys.add(d * KEYS_PER_BLOCK)), L::load(keys.add(d * KEYS_PER_BLOCK + L::WIDTH % KEYS_PER_BLOCK))];
                for (acc, &query) in acc.iter_mut().zip(queries) {
                    let q = L::splat(*query.add(d));
                    for i in 0..registers {
                        acc[i] = k[i].mul_add(q, acc[i]);
                    }
                }
            }
            let scale = L::splat(scale);
            for (r, acc) in acc.iter().enumerate() {
                for (i, acc) in acc.iter().enumerate().take(registers) {
                    acc.mul_add(scale, L::zero()).store(scores.add(r * stride + i * L::WIDTH));
                }
            }
        }
    }

    /// Up to `ROWS` rows at a time, in passes of up to `COLUMN_REGISTERS` registers of columns:
    /// each value row read from memory serves every row of the pass.
    #[inline(always)]
    unsafe fn weighted_rows<L: F32Lanes, const ROWS: usize>(sum: &WeightedSum) {
        unsafe {
            for (chunk, outs) in sum.outs.chunks(ROWS).enumerate() {
                let weights = sum.weights.add(chunk * ROWS * sum.stride);
                let mut column = 0;
                while column < sum.head_dim {
                    let registers = ((sum.head_dim - column) / L::WIDTH).min(COLUMN_REGISTERS);
                    let pass =
                        Pass { values: sum.values.add(column), head_dim: sum.head_dim, weights, stride: sum.stride, positions: sum.positions, outs, column };
                    match (outs.len(), registers) {
                        (4, 4) => pass.run::<L, 4, 4>(),
                        (4, 3) => pass.run::<L, 4, 3>(),
                        (4, 2) => pass.run::<L, 4, 2>(),
                        (4, _) => pass.run::<L, 4, 1>(),
                        (3, 4) => pass.run::<L, 3, 4>(),
                        (3, 3) => pass.run::<L, 3, 3>(),
                        (3, 2) => pass.run::<L, 3, 2>(),
                        (3, _) => pass.run::<L, 3, 1>(),
                        (2, 4) => pass.run::<L, 2, 4>(),
                        (2, 3) => pass.run::<L, 2, 3>(),
                        (2, 2) => pass.run::<L, 2, 2>(),
                        (2, _) => pass.run::<L, 2, 1>(),
                        (_, 4) => pass.run::<L, 1, 4>(),
                        (_, 3) => pass.run::<L, 1, 3>(),
                        (_, 2) => pass.run::<L, 1, 2>(),
                        (_, _) => pass.run::<L, 1, 1>(),
                    }
                    column += registers * L::WIDTH;
                }
            }
        }
    }

    /// One pass: `N` registers of columns from `column` on, for the rows of `outs`.
    struct Pass<'a> {
        values: *const f32,
        head_dim: usize,
        weights: *const f32,
        stride: usize,
        positions: usize,
        outs: &'a [*mut f32],
        column: usize,
    }

    impl Pass<'_> {
        #[inline(always)]
        unsafe fn run<L: F32Lanes, const R: usize, const N: usize>(&self) {
            unsafe {
                let mut acc = [[L::zero(); N]; R];
                for j in 0..self.positions {
                    let row = self.values.add(j * self.head_dim);
                    let v: [L; N] = std::array::from_fn(|n| L::load(row.add(n * L::WIDTH)));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let w = L::splat(*self.weights.add(r * self.stride + j));
                        for n in 0..N {
                            acc[n] = v[n].mul_add(w, acc[n]);
                        }
                    }
                }
                for (acc, &out) in acc.iter().zip(self.outs) {
                    for (n, acc) in acc.iter().enumerate() {
                        acc.store(out.add(self.column + n * L::WIDTH));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against plain loops over (position, head) in f64: decode and prefill rows, several GQA
    /// groupings and head widths, a cache filled before the new rows, on every instruction set this CPU has.
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
                // Llama 3 and Qwen heads: 128 wide, more than one pass of the weighted sum.
                (AttentionShape { n_head: 8, n_kv_head: 2, head_dim: 128 }, 21, 19),
                (AttentionShape { n_head: 14, n_kv_head: 2, head_dim: 128 }, 40, 1),
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
