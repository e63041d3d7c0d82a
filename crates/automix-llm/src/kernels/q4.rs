//! The 4-bit matrix multiply, for the Q4_K matrices of Q4_K_M files (most of a Qwen2.5 1.5B).
//!
//! Weights stay 4-bit: each block of 32 inputs keeps its unsigned nibbles `q` and, per column, an
//! f16 scale and minimum, so a weight is `scale · q − min` (5 bits a weight against Q4_K's 4.5; no
//! f32 copy). As in the Q8_0 kernel the columns of a tile are interleaved, so one `dpbusd` multiplies
//! four activation bytes into every column at once; a register of packed bytes holds two of them
//! (low nibbles: inputs 4p..4p+3, high nibbles: inputs 16+4p..), split with a mask and a shift.
//! Activations are the Q8_0 blocks of [`super::q8`], whose per-block sums carry the minimums:
//! `Σ (s·q − m)·a = s·Σ q·a − m·Σ a`.
//!
//! One generic kernel over [`super::int8::Vnni`] serves every set: AVX-512 VNNI (16 columns),
//! AVX-VNNI and its EVEX form (8 columns), and AVX2 through `vpmaddubsw`, exact here because
//! nibbles are below 128.

use half::f16;

use super::ggml::BLOCK;
use super::q8::{debug_assert_quantized_rows, for_each_tile, QuantizedRows};
use super::{build_parallel, Isa, SendPtr};

/// One block of 32 inputs for the columns of a tile.
trait Q4Tile: Sized + Send {
    const COLS: usize;
    fn zero() -> Self;
    fn parts(&mut self) -> (&mut [u8], &mut [u16], &mut [u16]);
    fn qs(&self) -> &[u8];
    fn scales(&self) -> &[u16];
    fn mins(&self) -> &[u16];
}

/// Defines a tile type of `cols` columns aligned to `align` bytes (a register's width).
macro_rules! q4_tile {
    ($(#[$doc:meta])* $name:ident, $cols:literal, $align:literal) => {
        $(#[$doc])*
        #[repr(C, align($align))]
        struct $name {
            /// [register p (4)][column][4 bytes]: byte i of column c holds input 4p+i in its low
            /// nibble and input 16+4p+i in its high nibble.
            qs: [u8; BLOCK / 2 * $cols],
            scales: [u16; $cols],
            mins: [u16; $cols],
        }

        impl Q4Tile for $name {
            const COLS: usize = $cols;
            fn zero() -> Self {
                Self { qs: [0; BLOCK / 2 * $cols], scales: [0; $cols], mins: [0; $cols] }
            }
            fn parts(&mut self) -> (&mut [u8], &mut [u16], &mut [u16]) {
                (&mut self.qs, &mut self.scales, &mut self.mins)
            }
            fn qs(&self) -> &[u8] {
                &self.qs
            }
            fn scales(&self) -> &[u16] {
                &self.scales
            }
            fn mins(&self) -> &[u16] {
                &self.mins
            }
        }
    };
}

q4_tile!(
    /// AVX-512: 16 columns.
    Q4Tile16, 16, 64
);
q4_tile!(
    /// 256-bit sets: 8 columns.
    Q4Tile8, 8, 32
);

enum Tiles {
    Avx512(Vec<Q4Tile16>),
    AvxVnni(Vec<Q4Tile8>),
    Avx2(Vec<Q4Tile8>),
}

/// A 4-bit weight matrix of `n` output rows by `k` inputs, packed for one instruction set.
pub struct PackedQ4 {
    n: usize,
    k: usize,
    tiles: Tiles,
}

impl PackedQ4 {
    /// Packs an `n × k` matrix given block by block: `block(row, b)` is the scale, the minimum and
    /// the 32 nibbles of inputs `32b..32b + 32` of row `row`. None when k is not a multiple of 32
    /// or `isa` has no kernels.
    pub(crate) fn from_blocks_for(isa: Isa, n: usize, k: usize, block: impl Fn(usize, usize) -> (f32, f32, [u8; BLOCK]) + Sync) -> Option<Self> {
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
            Tiles::Avx512(_) => Q4Tile16::COLS,
            Tiles::AvxVnni(_) | Tiles::Avx2(_) => Q4Tile8::COLS,
        }
    }
}

fn pack<T: Q4Tile>(n: usize, blocks_per_row: usize, block: impl Fn(usize, usize) -> (f32, f32, [u8; BLOCK]) + Sync) -> Vec<T> {
    build_parallel(n.div_ceil(T::COLS) * blocks_per_row, |index| {
        let (tile, b) = (index / blocks_per_row, index % blocks_per_row);
        // Padding columns past `n` stay zero: their results are never stored.
        let mut packed = T::zero();
        let (qs, scales, mins) = packed.parts();
        for col in 0..T::COLS.min(n - tile * T::COLS) {
            let (scale, min, nibbles) = block(tile * T::COLS + col, b);
            scales[col] = f16::from_f32(scale).to_bits();
            mins[col] = f16::from_f32(min).to_bits();
            for i in 0..BLOCK / 2 {
                debug_assert!(nibbles[i] < 16 && nibbles[i + 16] < 16);
                qs[(i / 4) * T::COLS * 4 + col * 4 + i % 4] = nibbles[i] | (nibbles[i + 16] << 4);
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
pub(super) unsafe fn matmul_quantized(a: &QuantizedRows, w: &PackedQ4, m: usize, out: SendPtr<f32>, out_stride: usize) {
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
    #[cfg(target_arch = "x86_64")]
    let vex_vnni = std::arch::is_x86_feature_detected!("avxvnni");
    for_each_tile(w.n, w.k, m, w.tile_cols(), out, |blocks, rows, out, width| {
        // SAFETY: the tiles were packed for a set this CPU has (the activations' quantizing asserted
        // it), and each (tile, row chunk) item writes a disjoint part of `out`, inside its bounds.
        unsafe {
            match &w.tiles {
                #[cfg(target_arch = "x86_64")]
                Tiles::Avx512(t) => x86::avx512(&t[blocks], a, w.k, rows, out, out_stride, width),
                #[cfg(target_arch = "x86_64")]
                Tiles::AvxVnni(t) if vex_vnni => x86::avxvnni(&t[blocks], a, w.k, rows, out, out_stride, width),
                #[cfg(target_arch = "x86_64")]
                Tiles::AvxVnni(t) => x86::avxvnni_evex(&t[blocks], a, w.k, rows, out, out_stride, width),
                #[cfg(target_arch = "x86_64")]
                Tiles::Avx2(t) => x86::avx2(&t[blocks], a, w.k, rows, out, out_stride, width),
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
    use super::{Q4Tile, Q4Tile16, Q4Tile8, QuantizedRows, BLOCK};
    use std::ops::Range;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,avx2,fma,f16c")]
    pub(super) unsafe fn avx512(weights: &[Q4Tile16], a: &QuantizedRows, k: usize, rows: Range<usize>, out: *mut f32, out_stride: usize, cols: usize) {
        unsafe { q4_rows::<Zmm, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    #[target_feature(enable = "avx2,fma,avxvnni,f16c")]
    pub(super) unsafe fn avxvnni(weights: &[Q4Tile8], a: &QuantizedRows, k: usize, rows: Range<usize>, out: *mut f32, out_stride: usize, cols: usize) {
        unsafe { q4_rows::<Ymm<Vex>, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512vnni,f16c")]
    pub(super) unsafe fn avxvnni_evex(weights: &[Q4Tile8], a: &QuantizedRows, k: usize, rows: Range<usize>, out: *mut f32, out_stride: usize, cols: usize) {
        unsafe { q4_rows::<Ymm<Evex>, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn avx2(weights: &[Q4Tile8], a: &QuantizedRows, k: usize, rows: Range<usize>, out: *mut f32, out_stride: usize, cols: usize) {
        unsafe { q4_rows::<Ymm<Maddubs>, _>(weights, a, k, rows, out, out_stride, cols) }
    }

    #[inline(always)]
    unsafe fn q4_rows<V: Vnni, T: Q4Tile>(weights: &[T], a: &QuantizedRows, k: usize, rows: Range<usize>, out: *mut f32, out_stride: usize, cols: usize) {
        debug_assert_tile_item(T::COLS, V::COLS, weights.len(), a, k, &rows, cols);
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
                    8 => q4_block::<V, T, 8>(weights, a, k, row, out, out_stride, cols),
                    4 => q4_block::<V, T, 4>(weights, a, k, row, out, out_stride, cols),
                    2 => q4_block::<V, T, 2>(weights, a, k, row, out, out_stride, cols),
                    _ => q4_block::<V, T, 1>(weights, a, k, row, out, out_stride, cols),
                }
                row += step;
            }
        }
    }

    /// `R` activation rows against one tile of columns, over every block of k.
    #[inline(always)]
    unsafe fn q4_block<V: Vnni, T: Q4Tile, const R: usize>(
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
                let mut w = [V::splat(0); 8];
                for p in 0..4 {
                    (w[p], w[p + 4]) = V::load(tile.qs().as_ptr().add(p * 4 * V::COLS)).nibbles();
                }
                let scales = <V::Float as F32Lanes>::load_f16(tile.scales().as_ptr());
                let mins = <V::Float as F32Lanes>::load_f16(tile.mins().as_ptr());
                for (r, acc) in acc.iter_mut().enumerate() {
                    let block = (row0 + r) * blocks_per_row + b;
                    let act = a.qs.as_ptr().add(block * BLOCK) as *const i32;
                    // Two chains of four: eight dependent dpbusd per block were the critical path
                    // when one row (decode) gives the core nothing else to overlap them with.
                    let (mut even, mut odd) = (V::splat(0), V::splat(0));
                    for g in (0..8).step_by(2) {
                        even = even.dpbusd(w[g], V::splat(act.add(g).read_unaligned()));
                        odd = odd.dpbusd(w[g + 1], V::splat(act.add(g + 1).read_unaligned()));
                    }
                    let dot = even.add(odd);
                    let a_scale = *a.scales.get_unchecked(block);
                    // offsets hold 128 · Σ a: scale · Σ a is what the minimums multiply.
                    let a_sum = *a.offsets.get_unchecked(block) as f32 * (a_scale / 128.0);
                    *acc = dot.to_float().mul_add(scales.mul(<V::Float as F32Lanes>::splat(a_scale)), *acc);
                    *acc = mins.mul_add(<V::Float as F32Lanes>::splat(-a_sum), *acc);
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

    /// Q4_K: the nibbles and the f16 scale and minimum of each block.
    #[test]
    fn q4_k_matmul_matches_dequantized_weights_on_every_path() {
        check_against_dequantized(GgmlDType::Q4K, 11);
    }
}
