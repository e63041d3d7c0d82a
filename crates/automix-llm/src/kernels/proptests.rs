//! Property tests over random shapes, on every instruction set this CPU has ([`Isa::all_supported`]):
//! each kernel against plain f64 loops, with tolerances derived from the inputs' magnitudes (error
//! bounds of the kernel's roundings, so they hold at every scale and shape without lucky or unlucky
//! draws). Every set this CPU has must run: a kernel that cannot be built for one fails the case,
//! it is not skipped. Shapes cover decode (one row) and prefill rows past a work item, columns that
//! do not fill a tile, and every quant type of a Q4_K_M file.
//!
//! Few cases each (`PROPTEST_CASES` asks for more); a failing property prints its smallest failing
//! input. Nothing is written to disk.

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Device, Module, Tensor};
use half::f16;
use proptest::prelude::*;
use proptest::test_runner::Config;

use super::attention::{attention, AttentionShape, KvLayer, KEYS_PER_BLOCK};
use super::elementwise::{gelu_for, softmax_for};
use super::ggml::{q4_k_block, q5_0_block, q6_k_block, q8_0_block, BLOCK, SUPER_BLOCK};
use super::matrix::{matmul, GgmlMatrix, PackedMatrix};
use super::vector::{add_in_place, rms_norm_rows, rope_rows, silu_mul_rows, RopeStyle};
use super::{q8, Isa, PackedQ8};

/// f32's unit roundoff, 2⁻²⁴.
const U: f64 = f32::EPSILON as f64 / 2.0;
/// f16's unit roundoff, 2⁻¹¹: the packed scales of Q4_K and Q6_K are f16.
const U16: f64 = 1.0 / 2048.0;
/// Slack for values the kernels flush towards zero (`exp` saturates at e⁻⁸⁷).
const TINY: f64 = 1e-30;

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(24);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// SplitMix64: the case's data from its seed, so a shrunk failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Normal with standard deviation `scale` (Box–Muller).
    fn normal(&mut self, scale: f32) -> f32 {
        let (a, b) = (self.unit(), self.unit());
        ((-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()) as f32 * scale
    }

    fn normals(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| self.normal(scale)).collect()
    }

    /// Normals with one value in 64 twenty times larger, as the outlier channels of a transformer's
    /// activations: they set their block's quantization step.
    fn activations(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| self.normal(scale) * if self.next().is_multiple_of(64) { 20.0 } else { 1.0 }).collect()
    }
}

/// 10^e for e drawn from `exponents`: magnitudes from tiny to large.
fn magnitude(exponents: std::ops::Range<f32>) -> impl Strategy<Value = f32> {
    exponents.prop_map(|e| 10f32.powf(e))
}

fn ggml_type(index: usize) -> GgmlDType {
    [GgmlDType::Q4K, GgmlDType::Q6K, GgmlDType::Q8_0, GgmlDType::Q5_0][index]
}

/// Activations as the kernels quantize them (Q8_0 blocks, round half to even: `quantize_plain`),
/// in f64, and each block's step (its scale).
fn quantized_activations(x: &[f32]) -> (Vec<f64>, Vec<f64>) {
    let mut values = Vec::with_capacity(x.len());
    let mut steps = Vec::with_capacity(x.len() / BLOCK);
    for block in x.chunks_exact(BLOCK) {
        let amax = block.iter().fold(0f32, |m, &v| m.max(v.abs()));
        let inverse = if amax > 0.0 { 127.0 / amax } else { 0.0 };
        let scale = amax / 127.0;
        values.extend(block.iter().map(|&v| (v * inverse).round_ties_even() as f64 * scale as f64));
        steps.push(scale as f64);
    }
    (values, steps)
}

/// Block `b` of a GGUF row as the kernels hold it once packed (the K-quants' scales and minimums
/// rounded to f16): the 32 weights, and the magnitudes of what the kernel sums for each (for
/// Q4_K, `scale · q` and the minimum are separate terms).
fn packed_block(dtype: GgmlDType, row: &[u8], b: usize) -> ([f64; BLOCK], [f64; BLOCK]) {
    let f16_round = |v: f32| f16::from_f32(v).to_f64();
    let weights: [f64; BLOCK] = match dtype {
        GgmlDType::Q4K => {
            let (scale, min, q) = q4_k_block(row, b);
            let (scale, min) = (f16_round(scale), f16_round(min));
            return (std::array::from_fn(|i| scale * q[i] as f64 - min), std::array::from_fn(|i| scale * q[i] as f64 + min));
        }
        GgmlDType::Q6K => {
            let (scales, q) = q6_k_block(row, b);
            std::array::from_fn(|i| f16_round(scales[i / 16]) * (q[i] as f64 - 32.0))
        }
        GgmlDType::Q8_0 | GgmlDType::Q5_0 => {
            let (scale, q) = if dtype == GgmlDType::Q8_0 { q8_0_block(row, b) } else { q5_0_block(row, b) };
            std::array::from_fn(|i| scale as f64 * q[i] as f64)
        }
        other => unreachable!("no kernel for {other:?}"),
    };
    (weights, weights.map(f64::abs))
}

/// Packs a stack of random GGUF matrices `parts` (type, rows) of `k` inputs at weight scale
/// `w_scale` and multiplies `m` random rows of activations at scale `x_scale` on every set:
/// - our kernels against the f64 product of the weights as packed (f16 scales) and the
///   activations as the kernels quantize them: only the float rounding of the kernel's sums is
///   left, a few ulps of Σ |terms| (a tight check: a wrong block, column, scale or minimum shows);
/// - our kernels and, for the generic set, candle's own matmul (what runs there) against the f64
///   product of candle's dequantized weights and the unrounded activations, within what rounding
///   the activations to 8 bits (Σ |w|·step/2; candle: blocks of 256 for the K-quants, a whole step
///   for its clamp) and the packed scales to f16 (2⁻¹¹ of each term) can change.
fn check_matmul(parts: &[(GgmlDType, usize)], m: usize, k: usize, w_scale: f32, x_scale: f32, seed: u64) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let device = Device::Cpu;
    let quantized: Vec<QTensor> = parts
        .iter()
        .map(|&(dtype, rows)| QTensor::quantize(&Tensor::from_vec(rng.normals(rows * k, w_scale), (rows, k), &device).unwrap(), dtype).unwrap())
        .collect();
    let data: Vec<Vec<u8>> = quantized.iter().map(|q| q.data().unwrap().into_owned()).collect();
    let matrices: Vec<GgmlMatrix> = parts.iter().zip(&data).map(|(&(dtype, rows), data)| GgmlMatrix { dtype, data, rows, k }).collect();
    let n: usize = parts.iter().map(|&(_, rows)| rows).sum();
    let blocks = k / BLOCK;

    // Candle's dequantized weights (n × k); the weights as packed and the magnitudes of the terms
    // the kernels sum; each (row, block)'s Q4_K minimum (0 for the other types); each row's type.
    let mut w: Vec<f64> = Vec::with_capacity(n * k);
    let (mut w_packed, mut w_terms): (Vec<f64>, Vec<f64>) = (Vec::with_capacity(n * k), Vec::with_capacity(n * k));
    let mut mins: Vec<f64> = Vec::with_capacity(n * blocks);
    let mut row_types = Vec::with_capacity(n);
    for (q, matrix) in quantized.iter().zip(&matrices) {
        w.extend(q.dequantize(&device).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap().into_iter().map(f64::from));
        let row_bytes = matrix.data.len() / matrix.rows;
        for row in matrix.data.chunks_exact(row_bytes) {
            for b in 0..blocks {
                let (packed, terms) = packed_block(matrix.dtype, row, b);
                w_packed.extend(packed);
                w_terms.extend(terms);
            }
            mins.extend((0..blocks).map(|b| if matrix.dtype == GgmlDType::Q4K { q4_k_block(row, b).1 as f64 } else { 0.0 }));
            row_types.push(matrix.dtype);
        }
    }
    let x = rng.activations(m * k, x_scale);
    let (x_quantized, steps) = quantized_activations(&x);

    struct Expected {
        /// Candle's dequantized weights times the activations.
        exact: f64,
        /// The packed weights times the activations as the kernels quantize them.
        exact_packed: f64,
        /// Bound on the kernels' float roundings: a few ulps of Σ |terms|.
        kernel_rounding: f64,
        /// Bound on `exact − exact_packed`: the activations' rounding to 8 bits and the scales' to f16.
        packing: f64,
        /// Bound on candle's error: its activations' rounding and its float sums.
        candle: f64,
    }
    let expected: Vec<Expected> = (0..m * n)
        .map(|index| {
            let (i, c) = (index / n, index % n);
            let (xs, xq) = (&x[i * k..][..k], &x_quantized[i * k..][..k]);
            let (ws, packed, terms) = (&w[c * k..][..k], &w_packed[c * k..][..k], &w_terms[c * k..][..k]);
            let candle_block = row_types[c].block_size();
            let mut e = Expected { exact: 0.0, exact_packed: 0.0, kernel_rounding: 0.0, packing: 0.0, candle: 0.0 };
            let (mut magnitude, mut activation_rounding) = (0.0, 0.0);
            for j in 0..k {
                let (step, min) = (steps[i * blocks + j / BLOCK], mins[c * blocks + j / BLOCK]);
                e.exact += ws[j] * xs[j] as f64;
                e.exact_packed += packed[j] * xq[j];
                e.kernel_rounding += terms[j] * xq[j].abs();
                activation_rounding += packed[j].abs() * step / 2.0;
                // Q4_K's scale · q and minimum are rounded to f16 apart: |scale · q| ≤ |w| + min.
                magnitude += (ws[j].abs() + 2.0 * min) * (xs[j] as f64).abs();
                if j % candle_block == 0 {
                    let amax = xs[j..j + candle_block].iter().fold(0f32, |m, &v| m.max(v.abs())) as f64;
                    e.candle += ws[j..j + candle_block].iter().map(|w| w.abs()).sum::<f64>() * amax / 127.0;
                }
            }
            // The per-block sums are exact integers; each block adds its scaled terms to a float
            // accumulator, a few roundings each.
            e.kernel_rounding = e.kernel_rounding * 2.0 * (blocks + 8) as f64 * U + TINY;
            let f16_scales = if matches!(row_types[c], GgmlDType::Q4K | GgmlDType::Q6K) { U16 } else { 0.0 };
            e.packing = activation_rounding * (1.0 + 1e-4) + magnitude * (f16_scales + 4.0 * U);
            e.candle += magnitude * 1e-4 + TINY;
            e
        })
        .collect();

    let check_ours = |isa: Isa, out: &[f32], what: &str| -> Result<(), TestCaseError> {
        for (index, (&got, e)) in out.iter().zip(&expected).enumerate() {
            let (i, c, got) = (index / n, index % n, got as f64);
            prop_assert!(
                (got - e.exact_packed).abs() <= e.kernel_rounding,
                "{what} {isa:?} row {i} column {c} ({:?}): {got} against {} from the packed weights and quantized activations (tolerance {})",
                row_types[c],
                e.exact_packed,
                e.kernel_rounding
            );
            prop_assert!(
                (got - e.exact).abs() <= e.packing + e.kernel_rounding,
                "{what} {isa:?} row {i} column {c} ({:?}): {got} against {} (tolerance {})",
                row_types[c],
                e.exact,
                e.packing + e.kernel_rounding
            );
        }
        Ok(())
    };

    // No kernels of ours on the generic set: the caller keeps candle's matmul, one matrix at a time.
    let candle: Vec<QMatMul> = quantized.into_iter().map(|q| QMatMul::from_qtensor(q).unwrap()).collect();
    let mut ran = Vec::new();
    for isa in Isa::all_supported() {
        if isa == Isa::Generic {
            let xs = Tensor::from_vec(x.clone(), (m, k), &device).unwrap();
            let mut out = vec![f32::NAN; m * n];
            let mut column = 0;
            for (qmatmul, &(_, rows)) in candle.iter().zip(parts) {
                let part: Vec<f32> = qmatmul.forward(&xs).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                for (i, values) in part.chunks_exact(rows).enumerate() {
                    out[i * n + column..][..rows].copy_from_slice(values);
                }
                column += rows;
            }
            for (index, (&got, e)) in out.iter().zip(&expected).enumerate() {
                let got = got as f64;
                prop_assert!(
                    (got - e.exact).abs() <= e.candle,
                    "candle's matmul (Generic) row {} column {} ({:?}): {got} against {} (tolerance {})",
                    index / n,
                    index % n,
                    row_types[index % n],
                    e.exact,
                    e.candle
                );
            }
            ran.push(isa);
            continue;
        }
        let packed = PackedMatrix::from_ggml(isa, &matrices);
        prop_assert!(packed.is_some(), "{isa:?} did not pack {parts:?} with k = {k}");
        let packed = packed.unwrap();
        prop_assert_eq!((packed.rows(), packed.columns()), (n, k));
        let mut out = vec![f32::NAN; m * n];
        matmul(&x, &packed, &mut out);
        check_ours(isa, &out, "PackedMatrix")?;
        // Q8_0 alone also packs through PackedQ8's own entry point.
        if parts.iter().all(|&(dtype, _)| dtype == GgmlDType::Q8_0) {
            let q8_parts: Vec<(&[u8], usize)> = matrices.iter().map(|matrix| (matrix.data, matrix.rows)).collect();
            let packed = PackedQ8::from_q8_0_for(isa, &q8_parts, k);
            prop_assert!(packed.is_some(), "{isa:?} did not pack Q8_0 with k = {k}");
            let mut out = vec![f32::NAN; m * n];
            q8::matmul(&x, &packed.unwrap(), &mut out);
            check_ours(isa, &out, "PackedQ8")?;
        }
        ran.push(isa);
    }
    prop_assert_eq!(ran, Isa::all_supported(), "every set this CPU has runs");
    Ok(())
}

/// Attention of `new` query rows after `cached` positions, the cache grown by steps while it is
/// written (as decoding does), against plain f64 loops. The tolerance bounds the float roundings:
/// the scores' sums (relative to Σ |q·k| / √d), `exp`'s (2⁻²² relative) and the weighted sums'.
#[allow(clippy::too_many_arguments)]
fn check_attention(
    shape: AttentionShape,
    cached: usize,
    new: usize,
    q_pad: usize,
    q_scale: f32,
    first_capacity: usize,
    growth: usize,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut rng = Rng(seed);
    let total = cached + new;
    let (d, kv_width, q_width) = (shape.head_dim, shape.n_kv_head * shape.head_dim, shape.n_head * shape.head_dim);
    let keys = rng.normals(total * kv_width, 1.0);
    let values = rng.normals(total * kv_width, 1.0);
    let q_stride = q_width + q_pad;
    let q = rng.normals(new * q_stride, q_scale);
    let mut kv = KvLayer::new(shape);
    kv.reserve(first_capacity);
    for p in 0..total {
        if p >= kv.capacity() {
            kv.reserve(p + 1 + growth);
        }
        kv.write(p, &keys[p * kv_width..][..kv_width], &values[p * kv_width..][..kv_width]);
    }
    let group = shape.n_head / shape.n_kv_head;
    let mut ran = Vec::new();
    for isa in Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic) {
        let mut out = vec![f32::NAN; new * q_width];
        attention(isa, &kv, &q, q_stride, cached, &mut out);
        for i in 0..new {
            for h in 0..shape.n_head {
                let kvh = h / group;
                let query = &q[i * q_stride + h * d..][..d];
                let visible = cached + i + 1;
                let key = |j: usize, x: usize| keys[j * kv_width + kvh * d + x] as f64;
                let logits: Vec<f64> = (0..visible).map(|j| (0..d).map(|x| query[x] as f64 * key(j, x)).sum::<f64>() / (d as f64).sqrt()).collect();
                let spread = (0..visible).map(|j| (0..d).map(|x| (query[x] as f64 * key(j, x)).abs()).sum::<f64>()).fold(0f64, f64::max) / (d as f64).sqrt();
                let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
                let sum: f64 = weights.iter().sum();
                for x in 0..d {
                    let value = |j: usize| values[j * kv_width + kvh * d + x] as f64;
                    let largest = (0..visible).map(|j| value(j).abs()).fold(0f64, f64::max);
                    let expected: f64 = (0..visible).map(|j| weights[j] / sum * value(j)).sum();
                    let tolerance = largest * (2e-5 + (2 * d + 10) as f64 * U * spread) + TINY;
                    let got = out[i * q_width + h * d + x] as f64;
                    prop_assert!(
                        (got - expected).abs() <= tolerance,
                        "{isa:?} {shape:?} cached {cached}: row {i} head {h} dim {x}: {got} against {expected} (tolerance {tolerance})"
                    );
                }
            }
        }
        ran.push(isa);
    }
    let expected: Vec<Isa> = Isa::all_supported().into_iter().filter(|&isa| isa > Isa::Generic).collect();
    prop_assert_eq!(ran, expected, "every set this CPU has runs (attention has no generic kernel: candle's runs there)");
    Ok(())
}

/// Runs `check` on every set this CPU has, the generic one included; fails unless all ran.
fn on_every_set(mut check: impl FnMut(Isa) -> Result<(), TestCaseError>) -> Result<(), TestCaseError> {
    let mut ran = Vec::new();
    for isa in Isa::all_supported() {
        check(isa)?;
        ran.push(isa);
    }
    prop_assert!(ran.contains(&Isa::Generic) && ran.contains(&Isa::detected()), "sets run: {ran:?}");
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// Q4_K (most of a Q4_K_M file): k in whole super-blocks.
    #[test]
    fn q4_k_matmul_matches_the_reference_on_every_set(
        m in 1usize..=80, supers in 1usize..=4, n in 1usize..=70,
        w_scale in magnitude(-2.0..2.0), x_scale in magnitude(-3.0..3.0), seed in any::<u64>(),
    ) {
        check_matmul(&[(GgmlDType::Q4K, n)], m, supers * SUPER_BLOCK, w_scale, x_scale, seed)?;
    }

    /// Q6_K (the output matrix, half of ffn_down and attn_v).
    #[test]
    fn q6_k_matmul_matches_the_reference_on_every_set(
        m in 1usize..=80, supers in 1usize..=4, n in 1usize..=70,
        w_scale in magnitude(-2.0..2.0), x_scale in magnitude(-3.0..3.0), seed in any::<u64>(),
    ) {
        check_matmul(&[(GgmlDType::Q6K, n)], m, supers * SUPER_BLOCK, w_scale, x_scale, seed)?;
    }

    /// Q8_0 (int8 form; also through PackedQ8's own matmul), k in whole blocks of 32.
    #[test]
    fn q8_0_matmul_matches_the_reference_on_every_set(
        m in 1usize..=80, blocks in 1usize..=32, n in 1usize..=70,
        w_scale in magnitude(-2.0..2.0), x_scale in magnitude(-3.0..3.0), seed in any::<u64>(),
    ) {
        check_matmul(&[(GgmlDType::Q8_0, n)], m, blocks * BLOCK, w_scale, x_scale, seed)?;
    }

    /// Q5_0 (int8 form), k in whole blocks of 32.
    #[test]
    fn q5_0_matmul_matches_the_reference_on_every_set(
        m in 1usize..=80, blocks in 1usize..=32, n in 1usize..=70,
        w_scale in magnitude(-2.0..2.0), x_scale in magnitude(-3.0..3.0), seed in any::<u64>(),
    ) {
        check_matmul(&[(GgmlDType::Q5_0, n)], m, blocks * BLOCK, w_scale, x_scale, seed)?;
    }

    /// Stacks mixing the types (q ‖ k ‖ v, gate ‖ up): each part lands in its own columns.
    #[test]
    fn mixed_stacks_match_the_reference_on_every_set(
        m in 1usize..=70, supers in 1usize..=3, parts in prop::collection::vec((0usize..4, 1usize..=40), 1..=4),
        w_scale in magnitude(-2.0..2.0), x_scale in magnitude(-3.0..3.0), seed in any::<u64>(),
    ) {
        let parts: Vec<(GgmlDType, usize)> = parts.into_iter().map(|(dtype, rows)| (ggml_type(dtype), rows)).collect();
        check_matmul(&parts, m, supers * SUPER_BLOCK, w_scale, x_scale, seed)?;
    }

    /// Attention: GQA groups, head widths of 1 to 8 key blocks, decode and prefill rows, caches
    /// filled before, grown while written, padded query rows, flat to peaky softmax.
    #[test]
    fn attention_matches_plain_loops_on_every_set(
        n_kv_head in 1usize..=4, group in 1usize..=4, head_blocks in 1usize..=8, cached in 0usize..=48, new in 1usize..=40,
        q_pad in 0usize..=5, q_scale in magnitude(-1.0..0.7), first_capacity in 1usize..=64, growth in 0usize..=20, seed in any::<u64>(),
    ) {
        let shape = AttentionShape { n_head: n_kv_head * group, n_kv_head, head_dim: head_blocks * KEYS_PER_BLOCK };
        prop_assert!(shape.supported());
        check_attention(shape, cached, new, q_pad, q_scale, first_capacity, growth, seed)?;
    }

    /// Erf GELU (AVX-512's own kernel, the plain one elsewhere) against libm's erf in f64: within
    /// Abramowitz & Stegun's 1.5e-7 and `exp`'s error, relative to |x|; masked tails included.
    #[test]
    fn gelu_matches_erf_on_every_set(len in 0usize..=300, scale in magnitude(-3.0..1.5), seed in any::<u64>()) {
        let x = Rng(seed).normals(len, scale);
        on_every_set(|isa| {
            let mut values = x.clone();
            gelu_for(isa, &mut values);
            for (&v, &got) in x.iter().zip(&values) {
                let v64 = v as f64;
                let expected = 0.5 * v64 * (1.0 + candle_core::cpu::erf::erf_f64(v64 / std::f64::consts::SQRT_2));
                let tolerance = 1e-6 * v64.abs() + TINY;
                prop_assert!((got as f64 - expected).abs() <= tolerance, "{isa:?} gelu({v}) = {got}, expected {expected}");
            }
            Ok(())
        })?;
    }

    /// Softmax of a row (AVX-512's own kernel, the plain one elsewhere) against f64.
    #[test]
    fn softmax_matches_f64_on_every_set(len in 1usize..=300, scale in magnitude(-2.0..1.5), seed in any::<u64>()) {
        let x = Rng(seed).normals(len, scale);
        let max = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
        let exps: Vec<f64> = x.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        on_every_set(|isa| {
            let mut values = x.clone();
            softmax_for(isa, &mut values);
            for ((&v, &got), &e) in x.iter().zip(&values).zip(&exps) {
                let expected = e / sum;
                let tolerance = expected * (4e-7 + 3.0 * U * (v as f64 - max).abs() + (len + 24) as f64 * U) + TINY;
                prop_assert!((got as f64 - expected).abs() <= tolerance, "{isa:?} len {len}: softmax of {v} = {got}, expected {expected}");
            }
            Ok(())
        })?;
    }

    /// RMSNorm rows (in parallel past 32k values) against f64.
    #[test]
    fn rms_norm_matches_f64_on_every_set(rows in 1usize..=130, width in 1usize..=320, scale in magnitude(-3.0..3.0), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let (x, weight) = (rng.normals(rows * width, scale), rng.normals(width, 1.0));
        let eps = 1e-6f32;
        on_every_set(|isa| {
            let mut out = vec![f32::NAN; rows * width];
            rms_norm_rows(isa, &x, &weight, eps, &mut out);
            for (r, (src, got)) in x.chunks_exact(width).zip(out.chunks_exact(width)).enumerate() {
                let mean_square = src.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / width as f64;
                let scale = 1.0 / (mean_square + eps as f64).sqrt();
                for (c, ((&v, &w), &got)) in src.iter().zip(&weight).zip(got).enumerate() {
                    let expected = v as f64 * scale * w as f64;
                    let tolerance = expected.abs() * (width + 40) as f64 * U + TINY;
                    prop_assert!((got as f64 - expected).abs() <= tolerance, "{isa:?} row {r} column {c}: {got}, expected {expected}");
                }
            }
            Ok(())
        })?;
    }

    /// RoPE, both pairings, on the first heads of padded rows at a position offset; the rest of
    /// each row is left alone.
    #[test]
    fn rope_matches_f64_on_every_set(
        rows in 1usize..=40, heads in 1usize..=6, half in 1usize..=64, pad in 0usize..=7, first_position in 0usize..=50,
        neox in any::<bool>(), seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let head_dim = 2 * half;
        let row_width = heads * head_dim + pad;
        let x = rng.normals(rows * row_width, 1.0);
        let angles: Vec<f32> = (0..(first_position + rows) * half).map(|_| rng.normal(3.0)).collect();
        let (cos, sin): (Vec<f32>, Vec<f32>) = angles.iter().map(|a| (a.cos(), a.sin())).unzip();
        let style = if neox { RopeStyle::Neox } else { RopeStyle::Interleaved };
        on_every_set(|isa| {
            let mut got = x.clone();
            rope_rows(isa, &mut got, row_width, heads, head_dim, first_position, &cos, &sin, style);
            for r in 0..rows {
                let (src, got) = (&x[r * row_width..][..row_width], &got[r * row_width..][..row_width]);
                prop_assert_eq!(&src[heads * head_dim..], &got[heads * head_dim..], "{:?} row {}: the padding changed", isa, r);
                for head in 0..heads {
                    for i in 0..half {
                        let (a, b) = if neox { (head * head_dim + i, head * head_dim + i + half) } else { (head * head_dim + 2 * i, head * head_dim + 2 * i + 1) };
                        let angle = (first_position + r) * half + i;
                        let (c, s, x0, x1) = (cos[angle] as f64, sin[angle] as f64, src[a] as f64, src[b] as f64);
                        let tolerance = 3.0 * U * (x0.abs() + x1.abs()) + TINY;
                        let (e0, e1) = (x0 * c - x1 * s, x0 * s + x1 * c);
                        prop_assert!(
                            (got[a] as f64 - e0).abs() <= tolerance && (got[b] as f64 - e1).abs() <= tolerance,
                            "{isa:?} {style:?} row {r} head {head} pair {i}: ({}, {}), expected ({e0}, {e1})", got[a], got[b]
                        );
                    }
                }
            }
            Ok(())
        })?;
    }

    /// SiLU(gate)·up rows (in parallel past 32k values) against f64, and `x += y` exactly.
    #[test]
    fn silu_mul_and_add_match_f64_on_every_set(rows in 1usize..=130, width in 1usize..=300, scale in magnitude(-2.0..1.3), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let gate_up: Vec<f32> = (0..rows).flat_map(|_| {
            let mut row = rng.normals(width, scale);
            row.extend(rng.normals(width, 1.0));
            row
        }).collect();
        let y = rng.normals(rows * width, 1.0);
        on_every_set(|isa| {
            let mut out = vec![f32::NAN; rows * width];
            silu_mul_rows(isa, &gate_up, &mut out, width);
            for (r, (src, got)) in gate_up.chunks_exact(2 * width).zip(out.chunks_exact(width)).enumerate() {
                let (gate, up) = src.split_at(width);
                for (c, ((&g, &u), &got)) in gate.iter().zip(up).zip(got).enumerate() {
                    let g64 = g as f64;
                    let expected = g64 / (1.0 + (-g64).exp()) * u as f64;
                    let tolerance = expected.abs() * (5e-7 + 2.0 * U * g64.abs() + 8.0 * U) + TINY;
                    prop_assert!((got as f64 - expected).abs() <= tolerance, "{isa:?} row {r} column {c}: silu({g})·{u} = {got}, expected {expected}");
                }
            }
            let mut sum = out.clone();
            add_in_place(isa, &mut sum, &y);
            let expected: Vec<f32> = out.iter().zip(&y).map(|(a, b)| a + b).collect();
            prop_assert_eq!(sum, expected, "{:?} x += y", isa);
            Ok(())
        })?;
    }
}

/// The property tests run every set [`Isa::all_supported`] lists; this checks that list against
/// the CPU's features read here, so a detection that lost a set (and with it every test of that
/// set's kernels) fails instead of passing on fewer sets.
#[test]
fn every_set_the_cpu_has_is_tested() {
    #[cfg(target_arch = "x86_64")]
    let best = {
        let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") && is_x86_feature_detected!("f16c");
        let avx512 = is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512vl")
            && is_x86_feature_detected!("avx512vnni");
        match (avx2, avx512, is_x86_feature_detected!("avxvnni")) {
            (true, true, _) => Isa::Avx512,
            (true, false, true) => Isa::AvxVnni,
            (true, false, false) => Isa::Avx2,
            _ => Isa::Generic,
        }
    };
    #[cfg(not(target_arch = "x86_64"))]
    let best = Isa::Generic;
    let all = [Isa::Generic, Isa::Avx2, Isa::AvxVnni, Isa::Avx512];
    assert_eq!(Isa::all_supported(), all[..=all.iter().position(|&isa| isa == best).unwrap()].to_vec());
    eprintln!("kernel sets tested on this CPU: {:?}", Isa::all_supported());
}
