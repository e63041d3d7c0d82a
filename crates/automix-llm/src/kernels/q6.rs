//! The 6-bit matrix multiply, for the Q6_K matrices of Q4_K_M files (a Qwen2.5 1.5B's output matrix
//! and half of its `ffn_down` and `attn_v`: a third of what a decoded token reads).
//!
//! Weights stay 6-bit: each block of 32 inputs keeps, per column, its unsigned values `q` (0..63)
//! as a low nibble and a high bit pair, and an f16 scale for each 16-input half, so a weight is
//! `scale · (q − 32)` exactly as Q6_K defines it (7 bits a weight against Q6_K's 6.56; as int8 with
//! a scale they took 9). The low nibbles are laid out as in [`super::q4`]; the high pairs of a half
//! share one register, four pairs a byte, and are moved over their nibbles with a shift and a mask.
//! The activations are the Q8_0 blocks of [`super::q8`]; the `− 32` is applied through the sums of
//! each half's activations: `Σ s·(q − 32)·a = s·(Σ q·a − 32·Σ a)`.
//!
//! One generic kernel over [`super::int8::Vnni`] serves every set, AVX2 included (`vpmaddubsw` is
//! exact: values below 64).

use half::f16;

use super::ggml::BLOCK;
use super::q8::{debug_assert_quantized_rows, for_each_tile, QuantizedRows};
use super::{build_parallel, Isa, SendPtr};

/// Inputs per half-block with a scale of its own.
const HALF: usize = BLOCK / 2;

/// One block of 32 inputs for the columns of a tile.
trait Q6Tile: Sized + Send {
    const COLS: usize;
    fn zero() -> Self;
    fn parts(&mut self) -> (&mut [u8], &mut [u8], &mut [u16]);
    fn lows(&self) -> &[u8];
    fn highs(&self) -> &[u8];
    fn scales(&self) -> &[u16];
}

/// Defines a tile type of `cols` columns aligned to `align` bytes (a register's width).
macro_rules! q6_tile {
    ($(#[$doc:meta])* $name:ident, $cols:literal, $align:literal) => {
        $(#[$doc])*
        #[repr(C, align($align))]
        struct $name {
            /// [register p (4)][column][4 bytes]: byte i of column c holds the low nibble of input
            /// 4p+i in its low half and that of input 16+4p+i in its high half.
            lows: [u8; BLOCK / 2 * $cols],
            /// [half h (2)][column][4 bytes]: byte i of column c holds the high bit pair of input
            /// 16h+4p+i at bits 2p and 2p+1, p = 0..4.
            highs: [u8; BLOCK / 4 * $cols],
            /// [half][column]: f16 scales.
            scales: [u16; 2 * $cols],
        }

        impl Q6Tile for $name {
            const COLS: usize = $cols;
            fn zero() -> Self {
                Self { lows: [0; BLOCK / 2 * $cols], highs: [0; BLOCK / 4 * $cols], scales: [0; 2 * $cols] }
            }
            fn parts(&mut self) -> (&mut [u8], &mut [u8], &mut [u16]) {
                (&mut self.lows, &mut self.highs, &mut self.scales)
            }
            fn lows(&self) -> &[u8] {
                &self.lows
            }
            fn highs(&self) -> &[u8] {
                &self.highs
            }
            fn scales(&self) -> &[u16] {
                &self.scales
            }
        }
    };
}

q6_tile!(
    /// AVX-512: 16 columns.
    Q6Tile16, 16, 64
);
q6_tile!(
    /// 256-bit sets: 8 columns.
    Q6Tile8, 8, 32
);

enum Tiles {
    Avx512(Vec<Q6Tile16>),
    AvxVnni(Vec<Q6Tile8>),
    Avx2(Vec<Q6Tile8>),
}

/// A 6-bit weight matrix of `n` output rows by `k` inputs, packed for one instruction set.
pub struct PackedQ6 {
    n: usize,
    k: usize,
    tiles: Tiles,
}

impl PackedQ6 {
    /// Packs an `n × k` matrix given block by block: `block(row, b)` is the scales of the two
    /// halves and the 32 values (0..63) of inputs `32b..32b + 32` of row `row`. None when k is not
    /// a multiple of 32 or `isa` has no kernels.
    pub(crate) fn from_blocks_for(isa: Isa, n: usize, k: usize, block: impl Fn(usize, usize) -> ([f32; 2], [u8; BLOCK]) + Sync) -> Option<Self> {
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

    pub fn rows(&self) -> usize {
        self.n
    }

    pub fn columns(&self) -> usize {
        self.k
    }

    fn tile_cols(&self) -> usize {
        match self.tiles {
            Tiles::Avx512(_) => Q6Tile16::COLS,
            Tiles::AvxVnni(_) | Tiles::Avx2(_) => Q6Tile8::COLS,
        }
    }
}

fn pack<T: Q6Tile>(n: usize, blocks_per_row: usize, block: impl Fn(usize, usize) -> ([f32; 2], [u8; BLOCK]) + Sync) -> Vec<T> {
    build_parallel(n.div_ceil(T::COLS) * blocks_per_row, |index| {
        let (tile, b) = (index / blocks_per_row, index % blocks_per_row);
        // Padding columns past `n` stay zero: their results are never stored.
        let mut packed = T::zero();
        let (lows, highs, scales) = packed.parts();
        for col in 0..T::COLS.min(n - tile * T::COLS) {
            let (half_scales, q) = block(tile * T::COLS + col, b);
            for (h, scale) in half_scales.iter().enumerate() {
                scales[h * T::COLS + col] = f16::from_f32(*scale).to_bits();
            }
            for i in 0..HALF {
                debug_assert!(q[i] < 64 && q[i + HALF] < 64);
                let (p, byte) = (i / 4, col * 4 + i % 4);
                lows[p * T::COLS * 4 + byte] = (q[i] & 0x0F) | ((q[i + HALF] & 0x0F) << 4);
                for h in 0..2 {
                    highs[h * T::COLS * 4 + byte] |= (q[h * HALF + i] >> 4) << (2 * p);
                }
            }
        }
        packed
    })
}

/// Writes columns `0..w.n` of the `m` rows of `out` (rows `out_stride` apart) from the quantized
/// rows `a`.
///
/// # Safety
/// `out` must be valid for `m` rows of `out_stride ≥ w.n` floats, and `a` hold `m` rows of `w.k`.
pub(super) unsafe fn matmul_quantized(a: &QuantizedRows, w: &PackedQ6, m: usize, out: SendPtr<f32>, out_stride: usize) {
    debug_assert_quantized_rows(a, m, w.k);
    debug_assert!(out_stride >= w.n, "output rows of {out_stride} floats are narrower than the {} columns", w.n);
    debug_assert_eq!(
        match &w.tiles {
            Tiles::Avx512(t) => t.len(),
            Tiles::AvxVnni(t) | Tiles::Avx2(t) => t.len(),
        },
        w.n.div_ceil(w.tile_cols()) * (w.k / BLOCK),
        "packed tiles do not cover n × k"
    );
    // −32 · Σ a over each half of each activation block: what the `− 32` of the weights adds.
    let corrections: Vec<[i32; 2]> = a.qs[..m * w.k]
        .chunks_exact(BLOCK)
        .map(|block| {
            let sum = |half: &[i8]| half.iter().map(|&v| v as i32).sum::<i32>();
            [-32 * sum(&block[..HALF]), -32 * sum(&block[HALF..])]
        })
        .collect();
    #[cfg(target_arch = "x86_64")]
    let vex_vnni = std::arch::is_x86_feature_detected!("avxvnni");
    let corrections = &corrections;
    for_each_tile(w.n, w.k, m, w.tile_cols(), out, |blocks, rows, out, width| {
        // SAFETY: the tiles were packed for a set this CPU has (the activations' quantizing asserted
        // it), and each (tile, row chunk) item writes a disjoint part of `out`, inside its bounds.
        unsafe {
            let args = (a, corrections.as_slice(), w.k, rows, out, out_stride, width);
            match &w.tiles {
                #[cfg(target_arch = "x86_64")]
                Tiles::Avx512(t) => x86::avx512(&t[blocks], args),
                #[cfg(target_arch = "x86_64")]
                Tiles::AvxVnni(t) if vex_vnni => x86::avxvnni(&t[blocks], args),
                #[cfg(target_arch = "x86_64")]
                Tiles::AvxVnni(t) => x86::avxvnni_evex(&t[blocks], args),
                #[cfg(target_arch = "x86_64")]
                Tiles::Avx2(t) => x86::avx2(&t[blocks], args),
                #[cfg(not(target_arch = "x86_64"))]
                _ => unreachable!("x86 weights are only packed on x86-64"),
            }
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::int8::{prefetch_ahead, Evex, Maddubs, Vex, Vnni, Ymm, Zmm};
    use super::super::lanes::F32Lanes;
    use super::super::q8::debug_assert_tile_item;
    use super::{Q6Tile, Q6Tile16, Q6Tile8, QuantizedRows, BLOCK};
    use std::ops::Range;

    /// The activations, their per-half corrections, k, the rows, the output, its row stride and the
    /// tile's columns.
    pub(super) type Args<'a> = (&'a QuantizedRows, &'a [[i32; 2]], usize, Range<usize>, *mut f32, usize, usize);

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
    pub(super) unsafe fn avx512(weights: &[Q6Tile16], args: Args) {
        unsafe { q6_rows::<Zmm, _>(weights, args) }
    }

    #[target_feature(enable = "avx2,fma,avxvnni,f16c")]
    pub(super) unsafe fn avxvnni(weights: &[Q6Tile8], args: Args) {
        unsafe { q6_rows::<Ymm<Vex>, _>(weights, args) }
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni,f16c")]
    pub(super) unsafe fn avxvnni_evex(weights: &[Q6Tile8], args: Args) {
        unsafe { q6_rows::<Ymm<Evex>, _>(weights, args) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn avx2(weights: &[Q6Tile8], args: Args) {
        unsafe { q6_rows::<Ymm<Maddubs>, _>(weights, args) }
    }

    #[inline(always)]
    unsafe fn q6_rows<V: Vnni, T: Q6Tile>(weights: &[T], args: Args) {
        let (a, corrections, k, rows, cols) = (args.0, args.1, args.2, args.3.clone(), args.6);
        debug_assert_tile_item(T::COLS, V::COLS, weights.len(), a, k, &rows, cols);
        debug_assert!(corrections.len() >= rows.end * (k / BLOCK), "fewer `− 32` corrections than activation blocks");
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
                    8 => q6_block::<V, T, 8>(weights, &args, row),
                    4 => q6_block::<V, T, 4>(weights, &args, row),
                    2 => q6_block::<V, T, 2>(weights, &args, row),
                    _ => q6_block::<V, T, 1>(weights, &args, row),
                }
                row += step;
            }
        }
    }

    /// `R` activation rows against one tile of columns, over every block of k.
    #[inline(always)]
    unsafe fn q6_block<V: Vnni, T: Q6Tile, const R: usize>(weights: &[T], args: &Args, row0: usize) {
        unsafe {
            let &(a, corrections, k, _, out, out_stride, cols) = args;
            let blocks_per_row = k / BLOCK;
            let mut acc = [<V::Float as F32Lanes>::zero(); R];
            for (b, tile) in weights.iter().enumerate() {
                prefetch_ahead(weights, b);
                // w[g]: the values of inputs 4g..4g+4 of every column, g = 0..8.
                let mut w = [V::splat(0); 8];
                let highs = [V::load(tile.highs().as_ptr()), V::load(tile.highs().as_ptr().add(4 * V::COLS))];
                for p in 0..4 {
                    let (low, high) = V::load(tile.lows().as_ptr().add(p * 4 * V::COLS)).nibbles();
                    w[p] = low.or(highs[0].high_pair(p));
                    w[p + 4] = high.or(highs[1].high_pair(p));
                }
                let scales = [<V::Float as F32Lanes>::load_f16(tile.scales().as_ptr()), <V::Float as F32Lanes>::load_f16(tile.scales().as_ptr().add(V::COLS))];
                for (r, acc) in acc.iter_mut().enumerate() {
                    let block = (row0 + r) * blocks_per_row + b;
                    let act = a.qs.as_ptr().add(block * BLOCK) as *const i32;
                    // One chain per half, each starting from its `− 32` correction, as each has its own scale.
                    let [first_correction, second_correction] = *corrections.get_unchecked(block);
                    let (mut first, mut second) = (V::splat(first_correction), V::splat(second_correction));
                    for g in 0..4 {
                        first = first.dpbusd(w[g], V::splat(act.add(g).read_unaligned()));
                        second = second.dpbusd(w[g + 4], V::splat(act.add(g + 4).read_unaligned()));
                    }
                    let a_scale = <V::Float as F32Lanes>::splat(*a.scales.get_unchecked(block));
                    *acc = first.to_float().mul_add(scales[0].mul(a_scale), *acc);
                    *acc = second.to_float().mul_add(scales[1].mul(a_scale), *acc);
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
}

#[cfg(test)]
mod tests {
    use super::super::matrix::tests::check_against_dequantized;
    use candle_core::quantized::GgmlDType;

    /// Q6_K: exact 6-bit values and the f16 scales of each half.
    #[test]
    fn q6_k_matmul_matches_dequantized_weights_on_every_path() {
        check_against_dequantized(GgmlDType::Q6K, 29);
    }
}
