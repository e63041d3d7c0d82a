//! A weight matrix as the forward pass sees it: GGUF matrices stacked along their output rows (q ‖ k
//! ‖ v, gate ‖ up), each packed in the form its type allows. Q4_K_M files mix types inside one such
//! stack (a Qwen2.5 1.5B layer has Q4_K q and k beside a Q6_K v), so a stack is a list of parts;
//! consecutive matrices of the same form share one part, and the activations are quantized once for
//! all of them.

use candle_core::quantized::GgmlDType;
use candle_core::Tensor;

use super::ggml::{q4_k_block, q5_0_block, q6_k_block, q8_0_block, BLOCK};
use super::q4::{self, PackedQ4};
use super::q6::{self, PackedQ6};
use super::q8::{self, with_quantized, PackedQ8};
use super::{Isa, SendPtr};

/// One GGUF matrix: `rows` outputs of `k` inputs in `dtype`'s blocks.
#[derive(Clone, Copy)]
pub struct GgmlMatrix<'a> {
    pub dtype: GgmlDType,
    pub data: &'a [u8],
    pub rows: usize,
    pub k: usize,
}

/// The packed form a GGUF type is run in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// int8 with a scale per 32: Q8_0 and Q5_0, exactly.
    Int8,
    /// Nibbles with a scale and a minimum per 32: Q4_K.
    Nibbles,
    /// 6-bit values with a scale per 16: Q6_K, exactly.
    Sixes,
}

impl Form {
    fn of(dtype: GgmlDType) -> Option<Self> {
        match dtype {
            GgmlDType::Q8_0 | GgmlDType::Q5_0 => Some(Self::Int8),
            GgmlDType::Q4K => Some(Self::Nibbles),
            GgmlDType::Q6K => Some(Self::Sixes),
            _ => None,
        }
    }
}

enum Part {
    Int8(PackedQ8),
    Nibbles(PackedQ4),
    Sixes(PackedQ6),
}

impl Part {
    fn rows(&self) -> usize {
        match self {
            Self::Int8(w) => w.rows(),
            Self::Nibbles(w) => w.rows(),
            Self::Sixes(w) => w.rows(),
        }
    }
}

/// Weight matrices stacked along their output rows and packed for one instruction set.
pub struct PackedMatrix {
    parts: Vec<Part>,
    n: usize,
    k: usize,
    isa: Isa,
}

impl PackedMatrix {
    /// Packs `matrices` (all with the same k) stacked in order, for the kernels of `isa`. None when
    /// a type has no kernel here, a shape does not fit, or `isa` has no kernels: the caller keeps
    /// candle's matmul.
    pub fn from_ggml(isa: Isa, matrices: &[GgmlMatrix]) -> Option<Self> {
        let k = matrices.first()?.k;
        for m in matrices {
            let form = Form::of(m.dtype)?;
            let blocks = m.k / m.dtype.block_size();
            if m.k != k || !m.k.is_multiple_of(m.dtype.block_size()) || m.data.len() != m.rows * blocks * m.dtype.type_size() {
                return None;
            }
            debug_assert!(form != Form::Int8 || m.k.is_multiple_of(BLOCK));
        }
        let mut parts = Vec::new();
        let mut start = 0;
        while start < matrices.len() {
            let form = Form::of(matrices[start].dtype)?;
            let end = start + matrices[start..].iter().take_while(|m| Form::of(m.dtype) == Some(form)).count();
            // Each output row with its type, in stacking order.
            let rows: Vec<(GgmlDType, &[u8])> =
                matrices[start..end].iter().flat_map(|m| m.data.chunks_exact(m.data.len() / m.rows).map(move |row| (m.dtype, row))).collect();
            parts.push(match form {
                Form::Int8 => Part::Int8(PackedQ8::from_blocks_for(isa, rows.len(), k, |row, b| {
                    let (dtype, bytes) = rows[row];
                    match dtype {
                        GgmlDType::Q8_0 => q8_0_block(bytes, b),
                        _ => q5_0_block(bytes, b),
                    }
                })?),
                Form::Nibbles => Part::Nibbles(PackedQ4::from_blocks_for(isa, rows.len(), k, |row, b| q4_k_block(rows[row].1, b))?),
                Form::Sixes => Part::Sixes(PackedQ6::from_blocks_for(isa, rows.len(), k, |row, b| q6_k_block(rows[row].1, b))?),
            });
            start = end;
        }
        let n = parts.iter().map(Part::rows).sum();
        Some(Self { parts, n, k, isa })
    }

    /// Output rows, all parts together.
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
}

/// `out[m × n] = x[m × k] · wᵀ`, every part into its own columns. Panics if the slices do not match
/// the shapes (a caller bug).
pub fn matmul(x: &[f32], w: &PackedMatrix, out: &mut [f32]) {
    let (n, k) = (w.n, w.k);
    let m = x.len() / k;
    assert_eq!(x.len(), m * k, "activation length is not a multiple of k");
    assert_eq!(out.len(), m * n, "output length does not match m × n");
    with_quantized(w.isa, x, k, |a| {
        let mut column = 0;
        for part in &w.parts {
            debug_assert!(column + part.rows() <= n, "the parts hold more rows than the matrix");
            let dst = SendPtr(out[column..].as_mut_ptr());
            // SAFETY: `out` holds m rows of n; this part's columns start at `column` and end within n.
            unsafe {
                match part {
                    Part::Int8(p) => q8::matmul_quantized(a, p, m, dst, n),
                    Part::Nibbles(p) => q4::matmul_quantized(a, p, m, dst, n),
                    Part::Sixes(p) => q6::matmul_quantized(a, p, m, dst, n),
                }
            }
            column += part.rows();
        }
        debug_assert_eq!(column, n, "the parts do not fill the matrix's rows");
    });
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use candle_core::quantized::{QMatMul, QTensor};
    use candle_core::{Device, Module};

    /// Packs random matrices of `dtype` on random shapes (decode rows, prefill rows past a chunk,
    /// columns that do not fill a tile) for every set and checks the product against an f32 matmul
    /// with the dequantized weights: the error left is the 8-bit rounding of the activations (and
    /// the f16 rounding of the packed scales), within a few % of the output's rms and, over all
    /// shapes, no worse than candle's own matmul of that type by more than half (one shape's
    /// maximum error is itself a random draw: candle's rounding is not always the smaller).
    pub(in crate::kernels) fn check_against_dequantized(dtype: GgmlDType, seed: u64) {
        let mut seed = seed;
        let mut next = |below: usize| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 33) as usize % below
        };
        let mut shapes = vec![(1, 256, 16), (3, 512, 40), (70, 768, 200), (9, 256, 7), (1, 1536, 33)];
        for _ in 0..4 {
            shapes.push((1 + next(80), 256 * (1 + next(4)), 1 + next(100)));
        }
        for isa in Isa::all_supported() {
            let (mut ours_total, mut candle_total) = (0f32, 0f32);
            for &(m, k, n) in &shapes {
                let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
                let x = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap();
                let q = QTensor::quantize(&w, dtype).unwrap();
                let data = q.data().unwrap();
                let matrix = GgmlMatrix { dtype, data: data.as_ref(), rows: n, k };
                let Some(packed) = PackedMatrix::from_ggml(isa, &[matrix]) else {
                    assert_eq!(isa, Isa::Generic, "{isa:?} must pack a multiple of 32");
                    continue;
                };
                let xs: Vec<f32> = x.flatten_all().unwrap().to_vec1().unwrap();
                let mut out = vec![0f32; m * n];
                matmul(&xs, &packed, &mut out);
                let ws: Vec<f32> = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let exact: Vec<f32> = (0..m * n).map(|i| (0..k).map(|j| xs[i / n * k + j] * ws[i % n * k + j]).sum()).collect();
                let candle: Vec<f32> = QMatMul::from_qtensor(q).unwrap().forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let rms = (exact.iter().map(|v| v * v).sum::<f32>() / exact.len() as f32).sqrt();
                let err = |got: &[f32]| got.iter().zip(&exact).fold(0f32, |e, (a, b)| e.max((a - b).abs())) / rms;
                assert!(err(&out) < 0.05, "{dtype:?} {isa:?} ({m},{k},{n}): max error {} of the output rms, candle's {}", err(&out), err(&candle));
                ours_total += err(&out);
                candle_total += err(&candle);
            }
            if isa > Isa::Generic {
                assert!(ours_total < 1.5 * candle_total, "{dtype:?} {isa:?}: summed max errors {ours_total} against candle's {candle_total}");
            }
        }
    }

    /// A stack mixing every supported type (a Qwen2.5 layer's q ‖ k ‖ v, and more) gives each
    /// part's rows of the f32 product with the dequantized weights, within the 8-bit rounding of
    /// the activations, on every set; a type without a kernel packs to
    /// None.
    #[test]
    fn a_mixed_stack_matches_dequantized_weights_on_every_path() {
        let k = 512;
        let types = [GgmlDType::Q4K, GgmlDType::Q5_0, GgmlDType::Q6K, GgmlDType::Q4K, GgmlDType::Q8_0];
        let rows = [24, 9, 17, 40, 8];
        let quantized: Vec<QTensor> =
            types.iter().zip(rows).map(|(&dtype, n)| QTensor::quantize(&Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap(), dtype).unwrap()).collect();
        let data: Vec<_> = quantized.iter().map(|q| q.data().unwrap()).collect();
        let matrices: Vec<GgmlMatrix> =
            types.iter().zip(rows).zip(&data).map(|((&dtype, rows), data)| GgmlMatrix { dtype, data: data.as_ref(), rows, k }).collect();
        let ws: Vec<f32> = quantized.iter().flat_map(|q| q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect();
        let n: usize = rows.iter().sum();
        for isa in Isa::all_supported() {
            let Some(packed) = PackedMatrix::from_ggml(isa, &matrices) else {
                assert_eq!(isa, Isa::Generic);
                continue;
            };
            assert_eq!((packed.rows(), packed.columns(), packed.parts.len()), (n, k, 5), "a part per run of one form");
            for m in [1, 3, 67] {
                let xs: Vec<f32> = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
                let mut out = vec![0f32; m * n];
                matmul(&xs, &packed, &mut out);
                let exact: Vec<f32> = (0..m * n).map(|i| (0..k).map(|j| xs[i / n * k + j] * ws[i % n * k + j]).sum()).collect();
                let rms = (exact.iter().map(|v| v * v).sum::<f32>() / exact.len() as f32).sqrt();
                let err = out.iter().zip(&exact).fold(0f32, |e, (a, b)| e.max((a - b).abs())) / rms;
                assert!(err < 0.05, "{isa:?} m={m}: max error {err} of the output rms");
            }
        }
        let f16 = QTensor::quantize(&Tensor::randn(0f32, 1.0, (4, k), &Device::Cpu).unwrap(), GgmlDType::F16).unwrap();
        let f16_data = f16.data().unwrap();
        let other = GgmlMatrix { dtype: GgmlDType::F16, data: f16_data.as_ref(), rows: 4, k };
        assert!(PackedMatrix::from_ggml(Isa::detected(), &[other]).is_none());
    }
}
