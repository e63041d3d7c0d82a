//! Element-wise CPU kernels as candle in-place ops, spread over the kernel thread pool: erf GELU
//! and a softmax over the unpadded prefix of each row.
//!
//! candle 0.11 runs these one element at a time on one thread with libm's `erf` and `exp`; in a
//! BERT encoder they took more time than all its matmuls. Here `exp` is a degree-6 polynomial of
//! 2^f (scaled by `vscalefps` on AVX-512; elsewhere the vectorised plain-Rust kernels of
//! [`super::vector`]) and erf is Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7).

use candle_core::{CpuStorage, InplaceOp1, Layout, Tensor};

use super::vector::{exp, softmax_row, EXP2_TAYLOR};
use super::{isa, multiversion, pool, Isa, SendPtr};

/// Elements per work item: large enough to amortise handing it out, small enough to balance.
const ELEMENTS_PER_ITEM: usize = 1 << 14;

/// Abramowitz & Stegun 7.1.26: erf(z) ≈ 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·e^(−z²), t = 1/(1 + p·z).
const ERF_P: f32 = 0.327_591_1;
const ERF_A: [f32; 5] = [0.254_829_6, -0.284_496_74, 1.421_413_8, -1.453_152_1, 1.061_405_4];

/// GELU with the exact (erf) form that BERT models are trained with, in place.
pub fn gelu_erf_in_place(x: &Tensor) -> candle_core::Result<()> {
    x.inplace_op1(&GeluErf)
}

/// Softmax over the last dimension of a (batch, …, rows, columns) tensor, in place, where only the
/// first `valid_columns[b]` columns of batch item `b` are real: the rest (right padding) get 0.
pub fn softmax_prefix_in_place(x: &Tensor, valid_columns: &[usize]) -> candle_core::Result<()> {
    x.inplace_op1(&SoftmaxPrefix { valid_columns })
}

struct GeluErf;

impl InplaceOp1 for GeluErf {
    fn name(&self) -> &'static str {
        "automix-gelu-erf"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        for_each_chunk(contiguous_f32(storage, layout, self.name())?, ELEMENTS_PER_ITEM, |_, chunk| gelu_slice(chunk));
        Ok(())
    }
}

struct SoftmaxPrefix<'a> {
    valid_columns: &'a [usize],
}

impl InplaceOp1 for SoftmaxPrefix<'_> {
    fn name(&self) -> &'static str {
        "automix-softmax-prefix"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let dims = layout.dims();
        let (Some(&batch), Some(&columns)) = (dims.first(), dims.last()) else {
            candle_core::bail!("{}: needs a tensor of rank 2 or more", self.name());
        };
        if dims.len() < 2 || self.valid_columns.len() != batch || self.valid_columns.iter().any(|&valid| valid > columns) {
            candle_core::bail!("{}: {} valid lengths do not fit the shape {dims:?}", self.name(), self.valid_columns.len());
        }
        let values = contiguous_f32(storage, layout, self.name())?;
        if values.is_empty() {
            return Ok(());
        }
        let rows_per_batch = values.len() / columns / batch;
        let rows_per_item = (ELEMENTS_PER_ITEM / columns).max(1);
        for_each_chunk(values, rows_per_item * columns, |item, chunk| {
            for (index, row) in chunk.chunks_exact_mut(columns).enumerate() {
                let (real, padding) = row.split_at_mut(self.valid_columns[(item * rows_per_item + index) / rows_per_batch]);
                softmax_slice(real);
                padding.fill(0.0);
            }
        });
        Ok(())
    }
}

/// Calls `work(index, chunk)` for consecutive chunks of `chunk_len` values (the last may be
/// shorter), spread over the kernel thread pool.
fn for_each_chunk(values: &mut [f32], chunk_len: usize, work: impl Fn(usize, &mut [f32]) + Sync) {
    debug_assert!(chunk_len > 0, "chunks of no values");
    let (ptr, len) = (SendPtr(values.as_mut_ptr()), values.len());
    pool().run(len.div_ceil(chunk_len), &|item| {
        let start = item * chunk_len;
        // SAFETY: each item is a distinct chunk inside `values`, which the pool's `run` borrows
        // for as long as any item runs.
        let chunk = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(start), chunk_len.min(len - start)) };
        work(item, chunk);
    });
}

fn contiguous_f32<'a>(storage: &'a mut CpuStorage, layout: &Layout, op: &str) -> candle_core::Result<&'a mut [f32]> {
    let CpuStorage::F32(data) = storage else {
        candle_core::bail!("{op}: needs an f32 tensor");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        candle_core::bail!("{op}: needs a contiguous tensor");
    };
    Ok(&mut data[start..end])
}

fn gelu_slice(values: &mut [f32]) {
    gelu_for(isa(), values)
}

/// GELU with the kernel of `kernels`. Panics when the CPU lacks the set (a caller bug: sets come
/// from [`isa`] or [`Isa::all_supported`]).
pub(super) fn gelu_for(kernels: Isa, values: &mut [f32]) {
    match kernels {
        Isa::Avx512 => {
            assert!(kernels <= Isa::detected(), "{kernels:?} kernels called on a CPU without them");
            // SAFETY: the CPU has the set (asserted above).
            unsafe { x86::gelu(values) }
        }
        other => gelu_plain(other, values),
    }
}

multiversion! {
    fn gelu_plain(values: &mut [f32]) {
        values.iter_mut().for_each(|v| *v = gelu(*v))
    }
}

fn softmax_slice(values: &mut [f32]) {
    softmax_for(isa(), values)
}

/// Softmax of a row with the kernel of `kernels`; panics as [`gelu_for`] does.
pub(super) fn softmax_for(kernels: Isa, values: &mut [f32]) {
    match kernels {
        Isa::Avx512 => {
            assert!(kernels <= Isa::detected(), "{kernels:?} kernels called on a CPU without them");
            // SAFETY: the CPU has the set (asserted above).
            unsafe { x86::softmax(values) }
        }
        other => softmax_row(other, values),
    }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + ERF_P * z);
    let poly = ERF_A.iter().rev().fold(0.0, |acc, &a| (acc + a) * t);
    let erf = (1.0 - poly * exp(-z * z)).copysign(x);
    0.5 * x * (1.0 + erf)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{ERF_A, ERF_P, EXP2_TAYLOR};
    use std::arch::x86_64::*;

    const LANES: usize = 16;

    /// e^x for each lane (|relative error| ≲ 2e-7 in the softmax range; saturates beyond ±87).
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn exp(x: __m512) -> __m512 {
        let x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(87.0)), _mm512_set1_ps(-87.0));
        let t = _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E));
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t);
        let f = _mm512_sub_ps(t, n);
        let mut p = _mm512_set1_ps(EXP2_TAYLOR[6]);
        for &c in EXP2_TAYLOR[..6].iter().rev() {
            p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
        }
        _mm512_scalef_ps(p, n)
    }

    #[inline]
    fn tail_mask(len: usize) -> __mmask16 {
        if len >= LANES {
            0xffff
        } else {
            (1u16 << len) - 1
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gelu(values: &mut [f32]) {
        unsafe {
            let sign_bit = _mm512_set1_ps(-0.0);
            for start in (0..values.len()).step_by(LANES) {
                let mask = tail_mask(values.len() - start);
                let ptr = values.as_mut_ptr().add(start);
                let x = _mm512_maskz_loadu_ps(mask, ptr);
                let z = _mm512_mul_ps(_mm512_andnot_ps(sign_bit, x), _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2));
                let t = _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_fmadd_ps(z, _mm512_set1_ps(ERF_P), _mm512_set1_ps(1.0)));
                let mut poly = _mm512_setzero_ps();
                for &a in ERF_A.iter().rev() {
                    poly = _mm512_mul_ps(_mm512_add_ps(poly, _mm512_set1_ps(a)), t);
                }
                let gauss = exp(_mm512_sub_ps(_mm512_setzero_ps(), _mm512_mul_ps(z, z)));
                let erf_abs = _mm512_fnmadd_ps(poly, gauss, _mm512_set1_ps(1.0));
                let erf = _mm512_or_ps(erf_abs, _mm512_and_ps(sign_bit, x));
                let half_x = _mm512_mul_ps(x, _mm512_set1_ps(0.5));
                _mm512_mask_storeu_ps(ptr, mask, _mm512_fmadd_ps(half_x, erf, half_x));
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn softmax(values: &mut [f32]) {
        unsafe {
            if values.is_empty() {
                return;
            }
            let len = values.len();
            let ptr = values.as_mut_ptr();
            let mut max = _mm512_set1_ps(f32::NEG_INFINITY);
            for start in (0..len).step_by(LANES) {
                let mask = tail_mask(len - start);
                max = _mm512_mask_max_ps(max, mask, max, _mm512_maskz_loadu_ps(mask, ptr.add(start)));
            }
            let max = _mm512_set1_ps(_mm512_reduce_max_ps(max));
            let mut sum = _mm512_setzero_ps();
            for start in (0..len).step_by(LANES) {
                let mask = tail_mask(len - start);
                let e = exp(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, ptr.add(start)), max));
                sum = _mm512_mask_add_ps(sum, mask, sum, e);
                _mm512_mask_storeu_ps(ptr.add(start), mask, e);
            }
            let scale = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(sum));
            for start in (0..len).step_by(LANES) {
                let mask = tail_mask(len - start);
                _mm512_mask_storeu_ps(ptr.add(start), mask, _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, ptr.add(start)), scale));
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    pub(super) unsafe fn gelu(_: &mut [f32]) {
        unreachable!("CPU kernels are only selected on x86-64")
    }

    pub(super) unsafe fn softmax(_: &mut [f32]) {
        unreachable!("CPU kernels are only selected on x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    fn max_abs_difference(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    #[test]
    fn gelu_matches_candles_erf_gelu() {
        // Odd length: exercises the masked tail and several work items.
        let x = (Tensor::randn(0f32, 3.0, (3, ELEMENTS_PER_ITEM + 7), &Device::Cpu).unwrap()).contiguous().unwrap();
        let expected = x.gelu_erf().unwrap();
        let ours = x.copy().unwrap();
        gelu_erf_in_place(&ours).unwrap();
        assert!(max_abs_difference(&ours, &expected) < 1e-5, "max difference {}", max_abs_difference(&ours, &expected));
        let scalar: Vec<f32> = x.flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(gelu).collect();
        let scalar = Tensor::from_vec(scalar, x.shape(), &Device::Cpu).unwrap();
        assert!(max_abs_difference(&scalar, &expected) < 1e-5);
    }

    #[test]
    fn softmax_prefix_ignores_padding_columns() {
        let (batch, heads, rows, columns) = (3, 2, 5, 37);
        let x = (Tensor::randn(0f32, 4.0, (batch, heads, rows, columns), &Device::Cpu).unwrap()).contiguous().unwrap();
        let valid = [37, 20, 1];
        let ours = x.copy().unwrap();
        softmax_prefix_in_place(&ours, &valid).unwrap();
        for (b, &len) in valid.iter().enumerate() {
            let expected = candle_nn::ops::softmax_last_dim(&x.get(b).unwrap().narrow(2, 0, len).unwrap().contiguous().unwrap()).unwrap();
            let got = ours.get(b).unwrap();
            assert!(max_abs_difference(&got.narrow(2, 0, len).unwrap(), &expected) < 1e-6);
            if len < columns {
                let padding = got.narrow(2, len, columns - len).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap();
                assert_eq!(padding.to_scalar::<f32>().unwrap(), 0.0);
            }
        }
        assert!(softmax_prefix_in_place(&ours, &[1, 2]).is_err(), "lengths must match the batch");
    }

    /// The plain-Rust softmax (every set but AVX-512, and the attention kernel) agrees with candle.
    #[test]
    fn plain_softmax_matches_candle() {
        for len in [1, 16, 37] {
            let x = Tensor::randn(0f32, 4.0, len, &Device::Cpu).unwrap();
            let mut values = x.to_vec1::<f32>().unwrap();
            softmax_row(Isa::Generic, &mut values);
            let expected = candle_nn::ops::softmax_last_dim(&x).unwrap();
            assert!(max_abs_difference(&Tensor::new(values, &Device::Cpu).unwrap(), &expected) < 1e-6);
        }
    }
}
