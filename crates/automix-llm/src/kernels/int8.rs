//! Registers of the int8 dot product the matmul kernels are written over: `COLS` i32 lanes, one
//! output column each, into which `dpbusd` adds four u8 × i8 products per lane. One trait, so each
//! quant type's kernel is written once and instantiated per instruction set:
//! - [`Zmm`]: AVX-512 VNNI, 16 columns;
//! - [`Ymm`]`<`[`Vex`]`>`: AVX-VNNI, 8 columns; [`Ymm`]`<`[`Evex`]`>` the same instruction in AVX-512
//!   VNNI's encoding, where AVX-VNNI itself is missing;
//! - [`Ymm`]`<`[`Maddubs`]`>`: AVX2 alone, `vpmaddubsw` + `vpmaddwd`. Its i16 pair sums saturate past
//!   32767, so it is exact only for weights below 128 (the 4-bit kernel's nibbles); the Q8_0 kernel
//!   has its own AVX2 loop with the sign trick.

#![cfg(target_arch = "x86_64")]

use super::lanes::F32Lanes;
use std::arch::x86_64::*;

/// A register of the `vpdpbusd` kernel: `COLS` i32 lanes, one output column each.
pub(in crate::kernels) trait Vnni: Copy {
    const COLS: usize;
    /// Activation rows kept in registers while one tile of weights is reused.
    const ROWS: usize;
    type Float: F32Lanes;
    /// An aligned load: `src` must be aligned to the register's width (the tiles are).
    unsafe fn load(src: *const u8) -> Self;
    unsafe fn splat(value: i32) -> Self;
    /// Per i32 lane, `self` plus the four products of the u8 `weights` and i8 `activations`.
    unsafe fn dpbusd(self, weights: Self, activations: Self) -> Self;
    unsafe fn to_float(self) -> Self::Float;
    /// The low and the high nibble of each byte, as bytes.
    unsafe fn nibbles(self) -> (Self, Self);
    /// Lane-wise i32 sum.
    unsafe fn add(self, other: Self) -> Self;
    /// Bitwise or.
    unsafe fn or(self, other: Self) -> Self;
    /// Per byte, bit pair `pair` (bits 2·pair, 2·pair + 1) moved to bits 4 and 5, the rest zero:
    /// the high bits of a 6-bit value over its low nibble.
    unsafe fn high_pair(self, pair: usize) -> Self;
}

#[derive(Clone, Copy)]
pub(in crate::kernels) struct Zmm(__m512i);
/// 256-bit, with `E`'s encoding of `vpdpbusd`.
#[derive(Clone, Copy)]
pub(in crate::kernels) struct Ymm<E>(__m256i, std::marker::PhantomData<E>);

/// An encoding of 256-bit `vpdpbusd`.
pub(in crate::kernels) trait Dpbusd256: Copy {
    unsafe fn dpbusd(acc: __m256i, weights: __m256i, activations: __m256i) -> __m256i;
}
/// AVX-VNNI's VEX encoding.
#[derive(Clone, Copy)]
pub(in crate::kernels) struct Vex;
/// AVX-512 VNNI's EVEX encoding, where AVX-VNNI itself is missing.
#[derive(Clone, Copy)]
pub(in crate::kernels) struct Evex;

/// AVX2 alone: `vpmaddubsw` then `vpmaddwd` by ones; exact while each pair of products fits i16
/// (weights below 128).
#[derive(Clone, Copy)]
pub(in crate::kernels) struct Maddubs;

impl Dpbusd256 for Maddubs {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, weights: __m256i, activations: __m256i) -> __m256i {
        unsafe { _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(weights, activations), _mm256_set1_epi16(1))) }
    }
}

impl Dpbusd256 for Vex {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, weights: __m256i, activations: __m256i) -> __m256i {
        unsafe { _mm256_dpbusd_avx_epi32(acc, weights, activations) }
    }
}

impl Dpbusd256 for Evex {
    #[inline(always)]
    unsafe fn dpbusd(acc: __m256i, weights: __m256i, activations: __m256i) -> __m256i {
        unsafe { _mm256_dpbusd_epi32(acc, weights, activations) }
    }
}

impl Vnni for Zmm {
    const COLS: usize = 16;
    const ROWS: usize = 8;
    type Float = __m512;
    #[inline(always)]
    unsafe fn load(src: *const u8) -> Self {
        debug_assert!(src.addr().is_multiple_of(64), "aligned 512-bit load from a misaligned tile");
        unsafe { Self(_mm512_load_si512(src as *const _)) }
    }
    #[inline(always)]
    unsafe fn splat(value: i32) -> Self {
        unsafe { Self(_mm512_set1_epi32(value)) }
    }
    #[inline(always)]
    unsafe fn dpbusd(self, weights: Self, activations: Self) -> Self {
        unsafe { Self(_mm512_dpbusd_epi32(self.0, weights.0, activations.0)) }
    }
    #[inline(always)]
    unsafe fn to_float(self) -> __m512 {
        unsafe { _mm512_cvtepi32_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        unsafe { Self(_mm512_add_epi32(self.0, other.0)) }
    }
    #[inline(always)]
    unsafe fn nibbles(self) -> (Self, Self) {
        unsafe {
            let mask = _mm512_set1_epi8(0x0F);
            (Self(_mm512_and_si512(self.0, mask)), Self(_mm512_and_si512(_mm512_srli_epi16(self.0, 4), mask)))
        }
    }
    #[inline(always)]
    unsafe fn or(self, other: Self) -> Self {
        unsafe { Self(_mm512_or_si512(self.0, other.0)) }
    }
    #[inline(always)]
    unsafe fn high_pair(self, pair: usize) -> Self {
        unsafe {
            // Shifts within 16-bit lanes; the mask keeps bits that came from the same byte.
            let moved = match pair {
                0 => _mm512_slli_epi16(self.0, 4),
                1 => _mm512_slli_epi16(self.0, 2),
                2 => self.0,
                _ => _mm512_srli_epi16(self.0, 2),
            };
            Self(_mm512_and_si512(moved, _mm512_set1_epi8(0x30)))
        }
    }
}

impl<E: Dpbusd256> Vnni for Ymm<E> {
    const COLS: usize = 8;
    /// 16 registers without AVX-512: 8 of weights, 4 accumulators, the rest for the sums.
    const ROWS: usize = 4;
    type Float = __m256;
    #[inline(always)]
    unsafe fn load(src: *const u8) -> Self {
        debug_assert!(src.addr().is_multiple_of(32), "aligned 256-bit load from a misaligned tile");
        unsafe { Self(_mm256_load_si256(src as *const __m256i), std::marker::PhantomData) }
    }
    #[inline(always)]
    unsafe fn splat(value: i32) -> Self {
        unsafe { Self(_mm256_set1_epi32(value), std::marker::PhantomData) }
    }
    #[inline(always)]
    unsafe fn dpbusd(self, weights: Self, activations: Self) -> Self {
        unsafe { Self(E::dpbusd(self.0, weights.0, activations.0), std::marker::PhantomData) }
    }
    #[inline(always)]
    unsafe fn to_float(self) -> __m256 {
        unsafe { _mm256_cvtepi32_ps(self.0) }
    }
    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        unsafe { Self(_mm256_add_epi32(self.0, other.0), std::marker::PhantomData) }
    }
    #[inline(always)]
    unsafe fn nibbles(self) -> (Self, Self) {
        unsafe {
            let mask = _mm256_set1_epi8(0x0F);
            let low = _mm256_and_si256(self.0, mask);
            let high = _mm256_and_si256(_mm256_srli_epi16(self.0, 4), mask);
            (Self(low, std::marker::PhantomData), Self(high, std::marker::PhantomData))
        }
    }
    #[inline(always)]
    unsafe fn or(self, other: Self) -> Self {
        unsafe { Self(_mm256_or_si256(self.0, other.0), std::marker::PhantomData) }
    }
    #[inline(always)]
    unsafe fn high_pair(self, pair: usize) -> Self {
        unsafe {
            // Shifts within 16-bit lanes; the mask keeps bits that came from the same byte.
            let moved = match pair {
                0 => _mm256_slli_epi16(self.0, 4),
                1 => _mm256_slli_epi16(self.0, 2),
                2 => self.0,
                _ => _mm256_srli_epi16(self.0, 2),
            };
            Self(_mm256_and_si256(moved, _mm256_set1_epi8(0x30)), std::marker::PhantomData)
        }
    }
}

/// Asks for the tile `PREFETCH_TILES` blocks after `b`, every cache line of it: in decode the
/// weights stream from memory once per token, and the hardware prefetcher alone kept about half
/// of the memory's bandwidth busy.
#[inline(always)]
pub(in crate::kernels) unsafe fn prefetch_ahead<T>(weights: &[T], b: usize) {
    unsafe {
        const PREFETCH_TILES: usize = 16;
        if b + PREFETCH_TILES < weights.len() {
            let ahead = weights.as_ptr().add(b + PREFETCH_TILES) as *const i8;
            for line in (0..std::mem::size_of::<T>()).step_by(64) {
                _mm_prefetch::<_MM_HINT_T0>(ahead.add(line));
            }
        }
    }
}
