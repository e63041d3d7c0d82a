//! The Q8_0 matrix multiply over weights repacked at load time, one kernel per instruction set.
//!
//! candle 0.11's own x86 Q8_0 path needs the inner dimension to be a multiple of 256 (SmolLM2's is
//! 576), so most of its matmuls fell back to one dot product per (row, column) pair. Here the
//! output columns of a tile are interleaved so one instruction multiplies 4 inputs into every
//! column of the tile at once, and activations are quantized to Q8_0 blocks of 32 as llama.cpp does:
//! - AVX-512 VNNI: 16 columns per tile, weights stored +128 as u8 for `vpdpbusd` (u8 × i8); the +128
//!   is taken back out with each activation block's sum.
//! - AVX-VNNI (Intel laptops since Alder Lake): the same kernel on 256-bit registers, 8 columns per
//!   tile. It is one generic kernel ([`x86::Vnni`]); on a CPU with AVX-512 VNNI but not AVX-VNNI the
//!   256-bit form runs with the EVEX encoding of the same instruction, which is how it is tested here.
//! - AVX2: 8 columns per tile, weights kept as i8; `vpmaddubsw` needs one unsigned operand, so it
//!   multiplies |w| by the activation carrying w's sign (llama.cpp's trick), which cannot saturate.

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Tensor};

use super::{build_parallel, for_each_range, isa, Isa, SendPtr};

use super::ggml::BLOCK;
/// Activation rows per work item in prefill: enough to amortise the weight tile, small enough to balance.
const ROWS_PER_ITEM: usize = 64;
/// Below this many multiply-adds a matmul runs on the calling thread alone: handing out work to a
/// worker costs a microsecond or two.
const MIN_PARALLEL_WORK: usize = 1 << 16;
/// Below this many activations quantizing runs on the calling thread alone (a decode step's row).
const MIN_PARALLEL_QUANTIZE: usize = 1 << 14;

/// One block of 32 inputs for the columns of a tile, interleaved [input quad (8)][column][4 inputs]
/// so one register-wide row of bytes feeds one multiply-add instruction.
trait Tile: Sized + Send {
    const COLS: usize;
    /// XORed into each weight byte: 0x80 stores it +128 as u8, 0 keeps it i8.
    const FLIP: u8;
    fn zero() -> Self;
    fn parts(&mut self) -> (&mut [u8], &mut [f32]);
    fn qs(&self) -> &[u8];
    fn scales(&self) -> &[f32];
}

/// Defines a tile type of `cols` columns, weights XORed with `flip`, aligned to `align` bytes (a
/// register's width, so an 8-column tile is not padded to 64).
macro_rules! tile {
    ($(#[$doc:meta])* $name:ident, $cols:literal, $flip:literal, $align:literal) => {
        $(#[$doc])*
        #[repr(C, align($align))]
        struct $name {
            qs: [u8; BLOCK * $cols],
            scales: [f32; $cols],
        }

        impl Tile for $name {
            const COLS: usize = $cols;
            const FLIP: u8 = $flip;
            fn zero() -> Self {
                Self { qs: [Self::FLIP; BLOCK * $cols], scales: [0.0; $cols] }
            }
            fn parts(&mut self) -> (&mut [u8], &mut [f32]) {
                (&mut self.qs, &mut self.scales)
            }
            fn qs(&self) -> &[u8] {
                &self.qs
            }
            fn scales(&self) -> &[f32] {
                &self.scales
            }
        }
    };
}

tile!(
    /// AVX-512 VNNI: weights +128 as u8.
    Tile16, 16, 0x80, 64
);
tile!(
    /// AVX2: weights as i8.
    Tile8, 8, 0, 32
);
tile!(
    /// 256-bit VNNI: weights +128 as u8.
    Tile8Unsigned, 8, 0x80, 32
);

/// Tile-major: tile `t` holds blocks `t * k / 32 ..`.
enum Tiles {
    Avx512(Vec<Tile16>),
    AvxVnni(Vec<Tile8Unsigned>),
    Avx2(Vec<Tile8>),
}

/// A Q8_0 weight matrix of `n` output rows by `k` inputs, repacked for [`matmul`] on one
/// instruction set.
pub struct PackedQ8 {
    n: usize,
    k: usize,
    tiles: Tiles,
}

impl PackedQ8 {
    /// Packs GGUF Q8_0 bytes of several matrices with the same `k`, stacked along the output rows,
    /// for the kernels' instruction set ([`super::isa`]). None when the shapes do not fit the
    /// kernel or there are no kernels.
    pub fn from_q8_0(parts: &[(&[u8], usize)], k: usize) -> Option<Self> {
        Self::from_q8_0_for(isa(), parts, k)
    }

    pub(crate) fn from_q8_0_for(isa: Isa, parts: &[(&[u8], usize)], k: usize) -> Option<Self> {
        if k == 0 || !k.is_multiple_of(BLOCK) {
            return None;
        }
        let row_bytes = k / BLOCK * super::ggml::Q8_0_BLOCK_BYTES;
        if parts.iter().any(|(bytes, rows)| bytes.len() != rows * row_bytes) {
            return None;
        }
        let rows: Vec<&[u8]> = parts.iter().flat_map(|(bytes, _)| bytes.chunks_exact(row_bytes)).collect();
        Self::from_blocks_for(isa, rows.len(), k, |row, block| super::ggml::q8_0_block(rows[row], block))
    }

    /// Packs an `n × k` matrix given block by block: `block(row, b)` is the scale and the 32 int8
    /// values of inputs `32b..32b + 32` of output row `row`. None when k is not a multiple of 32 or
    /// `isa` has no kernels.
    pub(crate) fn from_blocks_for(isa: Isa, n: usize, k: usize, block: impl Fn(usize, usize) -> (f32, [i8; BLOCK]) + Sync) -> Option<Self> {
        if k == 0 || !k.is_multiple_of(BLOCK) {
            return None;
        }
        let tiles = match isa {
            Isa::Generic => return None,
            Isa::Avx2 => Tiles::Avx2(pack(n, k / BLOCK, block)),
            Isa::AvxVnni => Tiles::AvxVnni(pack(n, k / BLOCK, block)),
            Isa::Avx512 => Tiles::Avx512(pack(n, k / BLOCK, block)),
        };
        Some(Self { n, k, tiles })
    }

    /// Quantizes an f32 matrix of shape (n, k) to Q8_0 and packs it; None when k is not a
    /// multiple of 32 or there are no kernels.
    pub fn quantize(weights: &Tensor) -> candle_core::Result<Option<Self>> {
        let (n, k) = weights.dims2()?;
        if !k.is_multiple_of(BLOCK) {
            return Ok(None);
        }
        let q = QTensor::quantize(&weights.to_dtype(DType::F32)?, GgmlDType::Q8_0)?;
        Ok(Self::from_q8_0(&[(q.data()?.as_ref(), n)], k))
    }

    /// Output rows.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Inputs per row.
    pub fn columns(&self) -> usize {
        self.k
    }

    /// `x · wᵀ` over the last dimension of a CPU f32 tensor.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        super::forward_tensor(x, self.n, self.k, |input, out| matmul(input, self, out))
    }

    fn isa(&self) -> Isa {
        match self.tiles {
            Tiles::Avx512(_) => Isa::Avx512,
            Tiles::AvxVnni(_) => Isa::AvxVnni,
            Tiles::Avx2(_) => Isa::Avx2,
        }
    }

    fn tile_cols(&self) -> usize {
        match self.tiles {
            Tiles::Avx512(_) => Tile16::COLS,
            Tiles::AvxVnni(_) => Tile8Unsigned::COLS,
            Tiles::Avx2(_) => Tile8::COLS,
        }
    }
}

fn pack<T: Tile>(n: usize, blocks_per_row: usize, block: impl Fn(usize, usize) -> (f32, [i8; BLOCK]) + Sync) -> Vec<T> {
    build_parallel(n.div_ceil(T::COLS) * blocks_per_row, |index| {
        let (tile, b) = (index / blocks_per_row, index % blocks_per_row);
        // Padding columns past `n` stay zero: their results are never stored.
        let mut packed = T::zero();
        let (qs, scales) = packed.parts();
        for col in 0..T::COLS.min(n - tile * T::COLS) {
            let (scale, values) = block(tile * T::COLS + col, b);
            scales[col] = scale;
            for (i, &q) in values.iter().enumerate() {
                qs[(i / 4) * T::COLS * 4 + col * 4 + i % 4] = q as u8 ^ T::FLIP;
            }
        }
        packed
    })
}

/// Activations quantized to Q8_0 blocks, with each block's sum times 128 so the VNNI kernel can
/// undo the +128 offset of the weights (and the 4-bit kernel apply its weights' minimums).
#[derive(Default)]
pub(super) struct QuantizedRows {
    pub(super) qs: Vec<i8>,
    pub(super) scales: Vec<f32>,
    pub(super) offsets: Vec<i32>,
}

/// Checks (in builds with debug assertions) that `a` holds `m` quantized rows of `k` inputs, `k` a
/// whole number of blocks: what the kernels read without bounds checks.
#[inline(always)]
pub(super) fn debug_assert_quantized_rows(a: &QuantizedRows, m: usize, k: usize) {
    debug_assert!(k > 0 && k.is_multiple_of(BLOCK), "k = {k} is not a whole number of {BLOCK}-input blocks");
    debug_assert!(a.qs.len() >= m * k, "{} quantized activations for {m} rows of {k}", a.qs.len());
    debug_assert!(a.scales.len() >= m * k / BLOCK && a.offsets.len() >= m * k / BLOCK, "fewer block scales or sums than the {m} rows of {k} have blocks");
}

/// Checks (in builds with debug assertions) one work item of a tile kernel: tiles of `tile_cols`
/// columns run in registers of as many, one packed block per block of `k`, the item's rows inside
/// the quantized activations, and 1 to `tile_cols` columns to store.
#[inline(always)]
pub(super) fn debug_assert_tile_item(
    tile_cols: usize,
    register_cols: usize,
    blocks: usize,
    a: &QuantizedRows,
    k: usize,
    rows: &std::ops::Range<usize>,
    cols: usize,
) {
    debug_assert_eq!(tile_cols, register_cols, "tiles of {tile_cols} columns run in registers of {register_cols}");
    debug_assert_eq!(blocks, k / BLOCK, "a tile of {blocks} blocks for k = {k}");
    debug_assert_quantized_rows(a, rows.end, k);
    debug_assert!((1..=tile_cols).contains(&cols), "{cols} columns to store from a tile of {tile_cols}");
}

/// Runs `f` with the rows `x` (of `k` inputs each) quantized by the kernel of `isa`, in a buffer
/// kept per thread.
pub(super) fn with_quantized<R>(isa: Isa, x: &[f32], k: usize, f: impl FnOnce(&QuantizedRows) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::RefCell<QuantizedRows> = std::cell::RefCell::new(QuantizedRows::default());
    }
    SCRATCH.with(|scratch| {
        let mut a = scratch.borrow_mut();
        let blocks = x.len() / BLOCK;
        assert_eq!(x.len() % k, 0, "activation length is not a multiple of k");
        a.qs.resize(x.len(), 0);
        a.scales.resize(blocks, 0.0);
        a.offsets.resize(blocks, 0);
        let QuantizedRows { qs, scales, offsets } = &mut *a;
        quantize(isa, x, qs, scales, offsets);
        f(&a)
    })
}

/// `out[m × n] = x[m × k] · wᵀ`. Panics if the slices do not match the shapes (a caller bug).
pub fn matmul(x: &[f32], w: &PackedQ8, out: &mut [f32]) {
    let (n, k) = (w.n, w.k);
    let m = x.len() / k;
    assert_eq!(x.len(), m * k, "activation length is not a multiple of k");
    assert_eq!(out.len(), m * n, "output length does not match m × n");
    // SAFETY: `out` holds m rows of n, checked above.
    with_quantized(w.isa(), x, k, |a| unsafe { matmul_quantized(a, w, m, SendPtr(out.as_mut_ptr()), n) });
}

/// Writes columns `0..w.n` of the `m` rows of `out` (rows `out_stride` apart) from the quantized
/// rows `a`.
///
/// # Safety
/// `out` must be valid for `m` rows of `out_stride ≥ w.n` floats, and `a` hold `m` rows of `w.k`.
pub(super) unsafe fn matmul_quantized(a: &QuantizedRows, w: &PackedQ8, m: usize, out: SendPtr<f32>, out_stride: usize) {
    debug_assert_quantized_rows(a, m, w.k);
    debug_assert!(out_stride >= w.n, "output rows of {out_stride} floats are narrower than the {} columns", w.n);
    debug_assert_eq!(
        match &w.tiles {
            Tiles::Avx512(t) => t.len(),
            Tiles::AvxVnni(t) => t.len(),
            Tiles::Avx2(t) => t.len(),
        },
        w.n.div_ceil(w.tile_cols()) * (w.k / BLOCK),
        "packed tiles do not cover n × k"
    );
    #[cfg(target_arch = "x86_64")]
    let vex_vnni = std::arch::is_x86_feature_detected!("avxvnni");
    for_each_tile(w.n, w.k, m, w.tile_cols(), out, |blocks, rows, out, width| {
        // SAFETY: w.isa() is at most the detected set (asserted when a was quantized), and
        // each (tile, row chunk) item writes a disjoint part of `out`, inside its bounds.
        unsafe {
            match &w.tiles {
                Tiles::Avx512(t) => x86::avx512_rows(&t[blocks], a, w.k, rows, out, out_stride, width),
                // The AvxVnni set runs where AVX-VNNI is, or AVX-512 VNNI (Isa::detect).
                #[cfg(target_arch = "x86_64")]
                Tiles::AvxVnni(t) if vex_vnni => x86::avxvnni_rows(&t[blocks], a, w.k, rows, out, out_stride, width),
                Tiles::AvxVnni(t) => x86::avxvnni_rows_evex(&t[blocks], a, w.k, rows, out, out_stride, width),
                Tiles::Avx2(t) => x86::avx2_rows(&t[blocks], a, w.k, rows, out, out_stride, width),
            }
        }
    });
}

/// Runs `kernel(blocks, rows, out, width)` for every tile of `cols` output columns (of `n`) and
/// chunk of the `m` activation rows, over the pool where the matmul is large enough to pay for it:
/// `blocks` is the tile's range of packed blocks (tile-major, `k / 32` a tile), `out` where its
/// first column lies in the output's first row, `width` its columns (fewer in the last tile). Each
/// item owns the output of its tile's columns in its rows.
pub(super) fn for_each_tile(
    n: usize,
    k: usize,
    m: usize,
    cols: usize,
    out: SendPtr<f32>,
    kernel: impl Fn(std::ops::Range<usize>, std::ops::Range<usize>, *mut f32, usize) + Sync,
) {
    debug_assert!(cols > 0 && k.is_multiple_of(BLOCK), "tiles of {cols} columns over k = {k}");
    let n_tiles = n.div_ceil(cols);
    let row_chunks = m.div_ceil(ROWS_PER_ITEM);
    let blocks_per_row = k / BLOCK;
    // Items are (row chunk, tile) pairs, flattened row chunk first.
    let items = |items: std::ops::Range<usize>| {
        for item in items {
            let (tile, chunk) = (item % n_tiles, item / n_tiles);
            let blocks = tile * blocks_per_row..(tile + 1) * blocks_per_row;
            let rows = chunk * ROWS_PER_ITEM..m.min((chunk + 1) * ROWS_PER_ITEM);
            kernel(blocks, rows, out.get().wrapping_add(tile * cols), cols.min(n - tile * cols));
        }
    };
    for_each_range(n_tiles * row_chunks, 1, m * n * k >= MIN_PARALLEL_WORK, items);
}

/// Quantizes `x` to Q8_0 blocks (round to nearest even, as `vcvtps2dq` does) with the kernel of
/// `isa`, over the pool when there are prefill rows.
fn quantize(isa: Isa, x: &[f32], qs: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
    let blocks = scales.len();
    assert!(x.len() == blocks * BLOCK && qs.len() == x.len() && offsets.len() == blocks, "quantize: slices do not match");
    assert!(isa <= Isa::detected(), "{isa:?} kernels called on a CPU without them");
    let (qs, scales, offsets) = (SendPtr(qs.as_mut_ptr()), SendPtr(scales.as_mut_ptr()), SendPtr(offsets.as_mut_ptr()));
    let work = |range: std::ops::Range<usize>| {
        let x = &x[range.start * BLOCK..range.end * BLOCK];
        // SAFETY: the ranges of blocks are disjoint and inside the slices (asserted above).
        let (qs, scales, offsets) = unsafe {
            (
                std::slice::from_raw_parts_mut(qs.get().add(range.start * BLOCK), range.len() * BLOCK),
                std::slice::from_raw_parts_mut(scales.get().add(range.start), range.len()),
                std::slice::from_raw_parts_mut(offsets.get().add(range.start), range.len()),
            )
        };
        match isa {
            // SAFETY: the CPU has the set (asserted above); the slices match (asserted above).
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => unsafe { x86::quantize_avx512(x, qs, scales, offsets) },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 | Isa::AvxVnni => unsafe { x86::quantize_avx2(x, qs, scales, offsets) },
            _ => quantize_plain(x, qs, scales, offsets),
        }
    };
    for_each_range(blocks, 1, x.len() >= MIN_PARALLEL_QUANTIZE, work);
}

/// The same in plain Rust: the reference the kernels are tested against.
fn quantize_plain(x: &[f32], qs: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
    for (((src, dst), scale), offset) in x.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK)).zip(scales.iter_mut()).zip(offsets.iter_mut()) {
        let amax = src.iter().fold(0f32, |m, &v| m.max(v.abs()));
        let inverse = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        let mut sum = 0i32;
        for (d, &v) in dst.iter_mut().zip(src) {
            let q = (v * inverse).round_ties_even() as i32;
            *d = q as i8;
            sum += q;
        }
        *scale = amax / 127.0;
        *offset = 128 * sum;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::int8::{prefetch_ahead, Evex, Vex, Vnni, Ymm, Zmm};
    use super::super::lanes::F32Lanes;
    use super::{QuantizedRows, Tile, Tile16, Tile8, Tile8Unsigned, BLOCK};
    use std::arch::x86_64::*;

    /// Q8_0 blocks of `x`, 32 floats in two registers per block.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize_avx512(x: &[f32], qs: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
        debug_assert!(x.len() >= scales.len() * BLOCK && qs.len() >= scales.len() * BLOCK, "quantize: fewer values than blocks × 32");
        unsafe {
            for (block, (scale, offset)) in scales.iter_mut().zip(offsets.iter_mut()).enumerate() {
                let src = x.as_ptr().add(block * BLOCK);
                let (low, high) = (_mm512_loadu_ps(src), _mm512_loadu_ps(src.add(16)));
                let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(low), _mm512_abs_ps(high)));
                let inverse = _mm512_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
                let (low, high) = (_mm512_cvtps_epi32(_mm512_mul_ps(low, inverse)), _mm512_cvtps_epi32(_mm512_mul_ps(high, inverse)));
                let dst = qs.as_mut_ptr().add(block * BLOCK) as *mut __m128i;
                _mm_storeu_si128(dst, _mm512_cvtepi32_epi8(low));
                _mm_storeu_si128(dst.add(1), _mm512_cvtepi32_epi8(high));
                *scale = amax / 127.0;
                *offset = 128 * _mm512_reduce_add_epi32(_mm512_add_epi32(low, high));
            }
        }
    }

    /// Q8_0 blocks of `x`, 32 floats in four registers per block.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn quantize_avx2(x: &[f32], qs: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
        debug_assert!(x.len() >= scales.len() * BLOCK && qs.len() >= scales.len() * BLOCK, "quantize: fewer values than blocks × 32");
        unsafe {
            let sign = _mm256_set1_ps(-0.0);
            // packs_epi32 then packs_epi16 leave the four registers' 4-byte groups interleaved by lane.
            let in_order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
            for (block, (scale, offset)) in scales.iter_mut().zip(offsets.iter_mut()).enumerate() {
                let src = x.as_ptr().add(block * BLOCK);
                let v: [__m256; 4] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(8 * i)));
                let abs = |v: __m256| _mm256_andnot_ps(sign, v);
                let max8 = _mm256_max_ps(_mm256_max_ps(abs(v[0]), abs(v[1])), _mm256_max_ps(abs(v[2]), abs(v[3])));
                let max4 = _mm_max_ps(_mm256_castps256_ps128(max8), _mm256_extractf128_ps(max8, 1));
                let max2 = _mm_max_ps(max4, _mm_movehl_ps(max4, max4));
                let amax = _mm_cvtss_f32(_mm_max_ss(max2, _mm_movehdup_ps(max2)));
                let inverse = _mm256_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
                let q: [__m256i; 4] = std::array::from_fn(|i| _mm256_cvtps_epi32(_mm256_mul_ps(v[i], inverse)));
                let sum8 = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
                let sum4 = _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
                let sum2 = _mm_add_epi32(sum4, _mm_unpackhi_epi64(sum4, sum4));
                let sum = _mm_cvtsi128_si32(_mm_add_epi32(sum2, _mm_shuffle_epi32(sum2, 1)));
                let bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
                _mm256_storeu_si256(qs.as_mut_ptr().add(block * BLOCK) as *mut __m256i, _mm256_permutevar8x32_epi32(bytes, in_order));
                *scale = amax / 127.0;
                *offset = 128 * sum;
            }
        }
    }

    /// Computes the columns of one tile for `rows`.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn avx512_rows(
        weights: &[Tile16],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        unsafe { vnni_rows::<Zmm, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    /// The same with AVX-VNNI.
    #[target_feature(enable = "avx2,fma,avxvnni")]
    pub(super) unsafe fn avxvnni_rows(
        weights: &[Tile8Unsigned],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        unsafe { vnni_rows::<Ymm<Vex>, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    /// The same 256-bit kernel with AVX-512 VNNI's encoding.
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni")]
    pub(super) unsafe fn avxvnni_rows_evex(
        weights: &[Tile8Unsigned],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        unsafe { vnni_rows::<Ymm<Evex>, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    #[inline(always)]
    unsafe fn vnni_rows<V: Vnni, T: Tile>(
        weights: &[T],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        super::debug_assert_tile_item(T::COLS, V::COLS, weights.len(), a, k, &rows, cols);
        unsafe {
            let mut row = rows.start;
            while row < rows.end {
                let step = match rows.end - row {
                    left if left >= 8 && V::ROWS >= 8 => 8,
                    left if left >= 4 => 4,
                    left if left >= 2 => 2,
                    _ => 1,
                };
                match step {
                    8 => vnni_block::<V, T, 8>(weights, a, k, row, out, out_stride, cols),
                    4 => vnni_block::<V, T, 4>(weights, a, k, row, out, out_stride, cols),
                    2 => vnni_block::<V, T, 2>(weights, a, k, row, out, out_stride, cols),
                    _ => vnni_block::<V, T, 1>(weights, a, k, row, out, out_stride, cols),
                }
                row += step;
            }
        }
    }

    /// `R` activation rows against one tile of columns, over every block of k.
    #[inline(always)]
    unsafe fn vnni_block<V: Vnni, T: Tile, const R: usize>(
        weights: &[T],
        a: &QuantizedRows,
        k: usize,
        row0: usize,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        unsafe {
            let blocks_per_row = k / BLOCK;
            let mut acc = [<V::Float as F32Lanes>::zero(); R];
            for (b, tile) in weights.iter().enumerate() {
                prefetch_ahead(weights, b);
                let w: [V; 8] = std::array::from_fn(|g| V::load(tile.qs().as_ptr().add(g * 4 * V::COLS)));
                let w_scales = <V::Float as F32Lanes>::load(tile.scales().as_ptr());
                for (r, acc) in acc.iter_mut().enumerate() {
                    let block = (row0 + r) * blocks_per_row + b;
                    let act = a.qs.as_ptr().add(block * BLOCK) as *const i32;
                    let mut dot = V::splat(-*a.offsets.get_unchecked(block));
                    for (g, w) in w.iter().enumerate() {
                        dot = dot.dpbusd(*w, V::splat(act.add(g).read_unaligned()));
                    }
                    let scale = w_scales.mul(<V::Float as F32Lanes>::splat(*a.scales.get_unchecked(block)));
                    *acc = dot.to_float().mul_add(scale, *acc);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let dst = out.add((row0 + r) * out_stride);
                if cols == V::COLS {
                    acc.store(dst);
                } else {
                    let mut lanes = [0f32; 16];
                    acc.store(lanes.as_mut_ptr());
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), dst, cols);
                }
            }
        }
    }

    /// Activation rows the AVX2 kernel keeps in registers while it reuses one tile of weights.
    const ROWS_256: usize = 4;

    /// Computes the columns of one tile for `rows`, `ROWS_256` rows at a time.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2_rows(
        weights: &[Tile8],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        super::debug_assert_tile_item(Tile8::COLS, Tile8::COLS, weights.len(), a, k, &rows, cols);
        unsafe {
            let mut row = rows.start;
            while row < rows.end {
                let step = match rows.end - row {
                    ROWS_256.. => {
                        rows_256::<ROWS_256>(weights, a, k, row, out, out_stride, cols);
                        ROWS_256
                    }
                    2.. => {
                        rows_256::<2>(weights, a, k, row, out, out_stride, cols);
                        2
                    }
                    _ => {
                        rows_256::<1>(weights, a, k, row, out, out_stride, cols);
                        1
                    }
                };
                row += step;
            }
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rows_256<const R: usize>(weights: &[Tile8], a: &QuantizedRows, k: usize, row0: usize, out: *mut f32, out_stride: usize, cols: usize) {
        unsafe {
            let blocks_per_row = k / BLOCK;
            let ones = _mm256_set1_epi16(1);
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, tile) in weights.iter().enumerate() {
                prefetch_ahead(weights, b);
                let mut dot = [_mm256_setzero_si256(); R];
                debug_assert!((tile as *const Tile8).addr().is_multiple_of(32), "aligned loads of a misaligned tile");
                for g in 0..8 {
                    let w = _mm256_load_si256(tile.qs.as_ptr().add(g * 32) as *const __m256i);
                    let w_abs = _mm256_sign_epi8(w, w);
                    for (r, dot) in dot.iter_mut().enumerate() {
                        let block = (row0 + r) * blocks_per_row + b;
                        let act = (a.qs.as_ptr().add(block * BLOCK) as *const i32).add(g).read_unaligned();
                        let signed = _mm256_sign_epi8(_mm256_set1_epi32(act), w);
                        *dot = _mm256_add_epi32(*dot, _mm256_madd_epi16(_mm256_maddubs_epi16(w_abs, signed), ones));
                    }
                }
                let w_scales = _mm256_load_ps(tile.scales.as_ptr());
                for (r, (acc, dot)) in acc.iter_mut().zip(&dot).enumerate() {
                    let block = (row0 + r) * blocks_per_row + b;
                    let scale = _mm256_mul_ps(w_scales, _mm256_set1_ps(*a.scales.get_unchecked(block)));
                    *acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(*dot), scale, *acc);
                }
            }
            if cols == Tile8::COLS {
                for (r, acc) in acc.iter().enumerate() {
                    _mm256_storeu_ps(out.add((row0 + r) * out_stride), *acc);
                }
            } else {
                for (r, acc) in acc.iter().enumerate() {
                    let mut lanes = [0f32; 8];
                    _mm256_storeu_ps(lanes.as_mut_ptr(), *acc);
                    std::ptr::copy_nonoverlapping(lanes.as_ptr(), out.add((row0 + r) * out_stride), cols);
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{QuantizedRows, Tile16, Tile8, Tile8Unsigned};

    pub(super) unsafe fn avx512_rows(_: &[Tile16], _: &QuantizedRows, _: usize, _: std::ops::Range<usize>, _: *mut f32, _: usize, _: usize) {
        unreachable!("x86 weights are only packed on x86-64")
    }

    pub(super) unsafe fn avxvnni_rows_evex(_: &[Tile8Unsigned], _: &QuantizedRows, _: usize, _: std::ops::Range<usize>, _: *mut f32, _: usize, _: usize) {
        unreachable!("x86 weights are only packed on x86-64")
    }

    pub(super) unsafe fn avx2_rows(_: &[Tile8], _: &QuantizedRows, _: usize, _: std::ops::Range<usize>, _: *mut f32, _: usize, _: usize) {
        unreachable!("x86 weights are only packed on x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module};

    /// Each kernel quantizes exactly as the plain loop: the same bytes, scales and sums, ties and
    /// all-zero blocks included.
    #[test]
    fn quantize_kernels_match_the_plain_loop() {
        let blocks = 300;
        let mut x: Vec<f32> = Tensor::randn(0f32, 3.0, blocks * BLOCK, &Device::Cpu).unwrap().to_vec1().unwrap();
        x[..BLOCK].fill(0.0);
        // A block whose products land on .5: 127 / 127 · (k + 0.5).
        for (i, v) in x[BLOCK..2 * BLOCK].iter_mut().enumerate() {
            *v = if i == 0 { 127.0 } else { (i % 7) as f32 + 0.5 };
        }
        type Quantizer<'a> = &'a dyn Fn(&[f32], &mut [i8], &mut [f32], &mut [i32]);
        let run = |f: Quantizer| {
            let (mut qs, mut scales, mut offsets) = (vec![0i8; x.len()], vec![0f32; blocks], vec![0i32; blocks]);
            f(&x, &mut qs, &mut scales, &mut offsets);
            (qs, scales, offsets)
        };
        let expected = run(&quantize_plain);
        for isa in Isa::all_supported() {
            assert_eq!(run(&|x, qs, scales, offsets| quantize(isa, x, qs, scales, offsets)), expected, "{isa:?}");
        }
    }

    /// Against an f32 matmul with the dequantized weights (plain loops), the only error left is the
    /// 8-bit rounding of the activations, which candle's matmul makes too: a few % of the output's
    /// rms at worst, for odd shapes as well, on every instruction set this CPU has.
    #[test]
    fn matmul_matches_dequantized_weights_on_every_path() {
        for isa in Isa::all_supported() {
            for (m, k, n) in [(1, 64, 16), (3, 96, 40), (70, 576, 200), (9, 32, 7), (5, 64, 3)] {
                let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
                let x = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap();
                let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
                let Some(packed) = PackedQ8::from_q8_0_for(isa, &[(q.data().unwrap().as_ref(), n)], k) else {
                    assert_eq!(isa, Isa::Generic, "{isa:?} must pack a multiple of 32");
                    continue;
                };
                let mut out = vec![0f32; m * n];
                matmul(&x.flatten_all().unwrap().to_vec1().unwrap(), &packed, &mut out);
                let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
                let ws: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let exact: Vec<f32> = (0..m * n).map(|i| (0..k).map(|j| xs[i / n * k + j] * ws[i % n * k + j]).sum()).collect();
                let candle: Vec<f32> = QMatMul::from_qtensor(q).unwrap().forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let rms = (exact.iter().map(|v| v * v).sum::<f32>() / exact.len() as f32).sqrt();
                let err = |got: &[f32]| got.iter().zip(&exact).fold(0f32, |e, (a, b)| e.max((a - b).abs())) / rms;
                assert!(
                    err(&out) < 0.05 && err(&out) < 1.2 * err(&candle),
                    "{isa:?} ({m},{k},{n}): max error {} of the output rms, candle's {}",
                    err(&out),
                    err(&candle)
                );
            }
        }
    }
}
