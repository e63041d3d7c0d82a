//! f32 SIMD registers behind one small trait, for the loops the compiler does not vectorise on its
//! own: a kernel is written once, generic over [`F32Lanes`], and instantiated inside a
//! `#[target_feature]` function per instruction set (the trait's methods are `#[inline(always)]`, so
//! they compile with the features of the function they land in).
//!
//! The int8 matmul uses it for its float side too. The weighted sum of attention's values was the case
//! that needed it: with its accumulators in a
//! `[[f32; 16]; C]`, LLVM kept all 64 lanes as scalars and spilled them (a third of prefill time).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

/// One register of f32 lanes. Methods are unsafe: they need the instruction set of the
/// implementation, and pointers valid for `WIDTH` floats.
pub(super) trait F32Lanes: Copy {
    const WIDTH: usize;
    unsafe fn zero() -> Self;
    unsafe fn splat(value: f32) -> Self;
    unsafe fn load(src: *const f32) -> Self;
    /// `WIDTH` f16 values widened to f32; needs F16C besides the set.
    unsafe fn load_f16(src: *const u16) -> Self;
    unsafe fn store(self, dst: *mut f32);
    unsafe fn mul(self, other: Self) -> Self;
    /// `self · a + b`, fused.
    unsafe fn mul_add(self, a: Self, b: Self) -> Self;
}

#[cfg(target_arch = "x86_64")]
impl F32Lanes for __m256 {
    const WIDTH: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        unsafe { _mm256_set1_ps(value) }
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        unsafe { _mm256_loadu_ps(src) }
    }
    #[inline(always)]
    unsafe fn load_f16(src: *const u16) -> Self {
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(src as *const __m128i)) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { _mm256_storeu_ps(dst, self) }
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        unsafe { _mm256_mul_ps(self, other) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        unsafe { _mm256_fmadd_ps(self, a, b) }
    }
}

#[cfg(target_arch = "x86_64")]
impl F32Lanes for __m512 {
    const WIDTH: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        unsafe { _mm512_setzero_ps() }
    }
    #[inline(always)]
    unsafe fn splat(value: f32) -> Self {
        unsafe { _mm512_set1_ps(value) }
    }
    #[inline(always)]
    unsafe fn load(src: *const f32) -> Self {
        unsafe { _mm512_loadu_ps(src) }
    }
    #[inline(always)]
    unsafe fn load_f16(src: *const u16) -> Self {
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(src as *const __m256i)) }
    }
    #[inline(always)]
    unsafe fn store(self, dst: *mut f32) {
        unsafe { _mm512_storeu_ps(dst, self) }
    }
    #[inline(always)]
    unsafe fn mul(self, other: Self) -> Self {
        unsafe { _mm512_mul_ps(self, other) }
    }
    #[inline(always)]
    unsafe fn mul_add(self, a: Self, b: Self) -> Self {
        unsafe { _mm512_fmadd_ps(self, a, b) }
    }
}
