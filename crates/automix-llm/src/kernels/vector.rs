//! Element-wise kernels of the decoder's CPU loop, in place over row-major f32 buffers: RMSNorm,
//! RoPE, SiLU(gate)·up, residual add, softmax and `exp`.
//!
//! Plain Rust written so the compiler vectorises it (fixed-width lane arrays for reductions, `exp`
//! without branches or libm), compiled per instruction set through `multiversion!`. Rows are spread
//! over the thread pool when there are enough of them (prefill); a decode step's single row stays on
//! the calling thread, where handing it out would cost more than it saves.

use super::{for_each_range, multiversion, Isa, SendPtr};

/// Below this many elements an element-wise pass runs on the calling thread alone.
const MIN_PARALLEL_ELEMENTS: usize = 1 << 15;
/// Lanes of the partial sums: two AVX2 registers, one AVX-512 register.
const LANES: usize = 16;

/// `ln(2)^k / k!` for k = 0..=6: the Taylor series of 2^f = e^(f·ln 2) for |f| ≤ 0.5.
pub(super) const EXP2_TAYLOR: [f32; 7] = [1.0, std::f32::consts::LN_2, 0.240_226_5, 0.055_504_11, 0.009_618_129, 0.001_333_356, 0.000_154_035_3];

/// e^x (|relative error| ≲ 2e-7; saturates beyond ±87), in a form the compiler vectorises: the
/// integer part of x·log2(e) is rounded with the 1.5·2²³ trick and becomes the exponent bits.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let t = x.clamp(-87.0, 87.0) * std::f32::consts::LOG2_E;
    let shifted = t + ROUND;
    let whole = shifted - ROUND;
    let f = t - whole;
    let mut p = EXP2_TAYLOR[6];
    for &c in EXP2_TAYLOR[..6].iter().rev() {
        p = p.mul_add(f, c);
    }
    let exponent = (shifted.to_bits() as i32 - ROUND.to_bits() as i32 + 127) << 23;
    p * f32::from_bits(exponent as u32)
}

/// Σ a·b with lane-wise partial sums, so it vectorises (plain `sum()` must keep the serial order).
#[inline(always)]
pub(super) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for i in 0..LANES {
            lanes[i] = x[i].mul_add(y[i], lanes[i]);
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// Softmax of a row in place.
#[inline(always)]
pub(super) fn softmax(values: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = values.chunks_exact(LANES);
    let tail_max = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for chunk in chunks {
        for i in 0..LANES {
            lanes[i] = lanes[i].max(chunk[i]);
        }
    }
    let max = lanes.iter().fold(tail_max, |m, &v| m.max(v));
    let mut sums = [0f32; LANES];
    let mut chunks = values.chunks_exact_mut(LANES);
    for chunk in &mut chunks {
        for i in 0..LANES {
            chunk[i] = exp(chunk[i] - max);
            sums[i] += chunk[i];
        }
    }
    let mut sum = sums.iter().sum::<f32>();
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sum += *v;
    }
    let scale = 1.0 / sum;
    values.iter_mut().for_each(|v| *v *= scale);
}

/// Runs `f(first_row, rows)` over consecutive groups of whole rows of `width` values, in parallel
/// when large.
fn rows_in_parallel(values: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync) {
    let rows = values.len() / width;
    let ptr = SendPtr(values.as_mut_ptr());
    for_each_range(rows, 1, values.len() >= MIN_PARALLEL_ELEMENTS, |range| {
        // SAFETY: each range of rows is a distinct part of `values`, borrowed for the whole call.
        let chunk = unsafe { std::slice::from_raw_parts_mut(ptr.get().add(range.start * width), range.len() * width) };
        f(range.start, chunk);
    });
}

/// `out[r] = x[r] / rms(x[r]) · weight` for each row of `weight.len()` values.
pub fn rms_norm_rows(isa: Isa, x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
    let width = weight.len();
    assert_eq!(x.len(), out.len(), "rms_norm: input and output sizes differ");
    rows_in_parallel(out, width, |first_row, out| rms_norm(isa, &x[first_row * width..][..out.len()], weight, eps, out));
}

multiversion! {
    fn rms_norm(x: &[f32], weight: &[f32], eps: f32, out: &mut [f32]) {
        let width = weight.len();
        for (src, dst) in x.chunks_exact(width).zip(out.chunks_exact_mut(width)) {
            let scale = 1.0 / (dot(src, src) / width as f32 + eps).sqrt();
            for ((d, s), w) in dst.iter_mut().zip(src).zip(weight) {
                *d = s * scale * w;
            }
        }
    }
}

/// How RoPE pairs the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// (2i, 2i+1): Llama weights in GGUF layout.
    Interleaved,
    /// (i, i + head_dim/2): Qwen.
    Neox,
}

/// Rotates, in place, the first `heads` heads of `head_dim` values in each row of `row_width`
/// values; row `r` is at position `first_position + r`. `cos`/`sin` hold head_dim/2 angles per
/// position.
#[allow(clippy::too_many_arguments)]
pub fn rope_rows(isa: Isa, x: &mut [f32], row_width: usize, heads: usize, head_dim: usize, first_position: usize, cos: &[f32], sin: &[f32], style: RopeStyle) {
    let half = head_dim / 2;
    rows_in_parallel(x, row_width, |first_row, rows| {
        let angles = (first_position + first_row) * half..(first_position + first_row + rows.len() / row_width) * half;
        rope(isa, rows, row_width, heads, head_dim, &cos[angles.clone()], &sin[angles], style == RopeStyle::Neox)
    });
}

multiversion! {
    fn rope(rows: &mut [f32], row_width: usize, heads: usize, head_dim: usize, cos: &[f32], sin: &[f32], neox: bool) {
        let half = head_dim / 2;
        for ((row, cos), sin) in rows.chunks_exact_mut(row_width).zip(cos.chunks_exact(half)).zip(sin.chunks_exact(half)) {
            for head in row[..heads * head_dim].chunks_exact_mut(head_dim) {
                if neox {
                    let (first, second) = head.split_at_mut(half);
                    for (((a, b), &c), &s) in first.iter_mut().zip(second.iter_mut()).zip(cos).zip(sin) {
                        let (x0, x1) = (*a, *b);
                        *a = x0 * c - x1 * s;
                        *b = x0 * s + x1 * c;
                    }
                } else {
                    for ((pair, &c), &s) in head.chunks_exact_mut(2).zip(cos).zip(sin) {
                        let (a, b) = (pair[0], pair[1]);
                        pair[0] = a * c - b * s;
                        pair[1] = a * s + b * c;
                    }
                }
            }
        }
    }
}

/// `out[r] = silu(gate[r]) · up[r]` for output rows of `width` values, where each input row is
/// `gate ‖ up` (twice as wide).
pub fn silu_mul_rows(isa: Isa, gate_up: &[f32], out: &mut [f32], width: usize) {
    assert_eq!(gate_up.len(), 2 * out.len(), "silu_mul: sizes do not match");
    rows_in_parallel(out, width, |first_row, out| silu_mul(isa, &gate_up[first_row * 2 * width..][..2 * out.len()], out, width));
}

multiversion! {
    fn silu_mul(gate_up: &[f32], out: &mut [f32], width: usize) {
        for (src, dst) in gate_up.chunks_exact(2 * width).zip(out.chunks_exact_mut(width)) {
            let (gate, up) = src.split_at(width);
            for ((d, &g), &u) in dst.iter_mut().zip(gate).zip(up) {
                *d = g / (1.0 + exp(-g)) * u;
            }
        }
    }
}

multiversion! {
    /// `x += y`.
    pub fn add_in_place(x: &mut [f32], y: &[f32]) {
        assert_eq!(x.len(), y.len(), "add: sizes differ");
        x.iter_mut().zip(y).for_each(|(a, b)| *a += b);
    }
}

multiversion! {
    /// Softmax of a row in place, vectorised for `isa`.
    pub(super) fn softmax_row(values: &mut [f32]) {
        softmax(values)
    }
}
