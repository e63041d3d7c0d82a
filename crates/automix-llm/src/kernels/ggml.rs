//! GGUF's block layouts, read one 32-input block at a time into the forms the matmul kernels pack:
//! - Q8_0 and Q5_0 as int8 values with one scale ([`super::PackedQ8`]), exactly: a Q5_0 value is
//!   `d · (q − 16)` with `q − 16` in −16..15;
//! - Q6_K as its unsigned 6-bit values with the scales of its two 16-input halves
//!   ([`super::PackedQ6`]), exactly;
//! - Q4_K as unsigned nibbles with a scale and a minimum per 32 ([`super::PackedQ4`]): the value is
//!   `d · sc · q − dmin · m`, as the format defines it.

use half::f16;

/// Inputs per block of every packed form.
pub(super) const BLOCK: usize = 32;
/// Inputs per super-block of the K-quants.
pub(super) const SUPER_BLOCK: usize = 256;
/// Bytes of one Q8_0 block: an f16 scale, then 32 signed bytes.
pub(super) const Q8_0_BLOCK_BYTES: usize = 2 + BLOCK;
/// Bytes of one Q5_0 block: an f16 scale, 32 fifth bits, 16 bytes of nibbles.
pub(super) const Q5_0_BLOCK_BYTES: usize = 2 + 4 + BLOCK / 2;
/// Bytes of one Q6_K super-block: low nibbles, high bit pairs, 16 int8 scales, an f16 scale.
pub(super) const Q6_K_BLOCK_BYTES: usize = SUPER_BLOCK / 2 + SUPER_BLOCK / 4 + SUPER_BLOCK / 16 + 2;
/// Bytes of one Q4_K super-block: f16 d and dmin, 12 bytes of 6-bit scales and minimums, nibbles.
pub(super) const Q4_K_BLOCK_BYTES: usize = 2 + 2 + 12 + SUPER_BLOCK / 2;

fn f16_at(bytes: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([bytes[at], bytes[at + 1]]).to_f32()
}

/// Block `b` of a Q8_0 row.
pub(super) fn q8_0_block(row: &[u8], b: usize) -> (f32, [i8; BLOCK]) {
    let src = &row[b * Q8_0_BLOCK_BYTES..(b + 1) * Q8_0_BLOCK_BYTES];
    (f16_at(src, 0), std::array::from_fn(|i| src[2 + i] as i8))
}

/// Block `b` of a Q5_0 row, exactly.
pub(super) fn q5_0_block(row: &[u8], b: usize) -> (f32, [i8; BLOCK]) {
    let src = &row[b * Q5_0_BLOCK_BYTES..(b + 1) * Q5_0_BLOCK_BYTES];
    let high = u32::from_le_bytes([src[2], src[3], src[4], src[5]]);
    let qs = &src[6..];
    let values = std::array::from_fn(|i| {
        let nibble = if i < 16 { qs[i] & 0x0F } else { qs[i - 16] >> 4 };
        let fifth = ((high >> i) & 1) as u8;
        (nibble | (fifth << 4)) as i8 - 16
    });
    (f16_at(src, 0), values)
}

/// Block `b` (of 8 per super-block) of a Q6_K row as the format stores it: the scales of its two
/// 16-input halves (`d · sc`) and its 32 unsigned 6-bit values `q`, so that value `i` is
/// `scale[i / 16] · (q[i] − 32)`.
pub(super) fn q6_k_block(row: &[u8], b: usize) -> ([f32; 2], [u8; BLOCK]) {
    let src: &[u8; Q6_K_BLOCK_BYTES] = row[b / 8 * Q6_K_BLOCK_BYTES..][..Q6_K_BLOCK_BYTES].try_into().expect("a whole super-block");
    let d = f16_at(src, 208);
    // Positions 32j.. of the super-block: half `j / 4` of 128, quarter `j % 4` of that half.
    let (half, quarter) = (b % 8 / 4, b % 4);
    let ql: &[u8; BLOCK] = src[64 * half + 32 * (quarter & 1)..][..BLOCK].try_into().expect("32 low nibbles");
    let qh: &[u8; BLOCK] = src[128 + 32 * half..][..BLOCK].try_into().expect("32 high bit pairs");
    let scale = |sixteen: usize| d * src[192 + 8 * half + sixteen + 2 * quarter] as i8 as f32;
    let shift = if quarter < 2 { 0 } else { 4 };
    let q = std::array::from_fn(|l| ((ql[l] >> shift) & 0x0F) | (((qh[l] >> (2 * quarter)) & 3) << 4));
    ([scale(0), scale(1)], q)
}

/// Sub-block `j` (0..8) scale and minimum of a Q4_K super-block's 12 packed bytes: 6 bits each.
fn q4_k_scale_min(j: usize, packed: &[u8]) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        ((packed[j + 4] & 0x0F) | ((packed[j - 4] >> 6) << 4), (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4))
    }
}

/// Block `b` (of 8 per super-block) of a Q4_K row: its scale, its minimum and its 32 nibbles, so
/// that value `i` is `scale · q[i] − min`.
pub(super) fn q4_k_block(row: &[u8], b: usize) -> (f32, f32, [u8; BLOCK]) {
    let src = &row[b / 8 * Q4_K_BLOCK_BYTES..(b / 8 + 1) * Q4_K_BLOCK_BYTES];
    let (d, dmin) = (f16_at(src, 0), f16_at(src, 2));
    let j = b % 8;
    let (scale, min) = q4_k_scale_min(j, &src[4..16]);
    let qs = &src[16 + 32 * (j / 2)..16 + 32 * (j / 2) + 32];
    let nibbles = std::array::from_fn(|i| if j.is_multiple_of(2) { qs[i] & 0x0F } else { qs[i] >> 4 });
    (d * scale as f32, dmin * min as f32, nibbles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    fn random_matrix(rows: usize, k: usize, dtype: GgmlDType) -> (QTensor, Vec<f32>) {
        let w = Tensor::randn(0f32, 1.0, (rows, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&w, dtype).unwrap();
        let reference = q.dequantize(&Device::Cpu).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        (q, reference)
    }

    /// Q8_0, Q5_0, Q6_K and Q4_K blocks read back exactly what candle dequantizes.
    #[test]
    fn blocks_read_back_what_candle_dequantizes() {
        let (rows, k) = (5, 512);
        let row_values = |reference: &[f32], row: usize, b: usize| reference[row * k + b * BLOCK..row * k + (b + 1) * BLOCK].to_vec();
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q5_0, GgmlDType::Q6K, GgmlDType::Q4K] {
            let (q, reference) = random_matrix(rows, k, dtype);
            let data = q.data().unwrap();
            let row_bytes = data.len() / rows;
            for row in 0..rows {
                let bytes = &data[row * row_bytes..(row + 1) * row_bytes];
                for b in 0..k / BLOCK {
                    let expected = row_values(&reference, row, b);
                    let got: Vec<f32> = match dtype {
                        GgmlDType::Q8_0 => {
                            let (s, v) = q8_0_block(bytes, b);
                            v.iter().map(|&v| s * v as f32).collect()
                        }
                        GgmlDType::Q5_0 => {
                            let (s, v) = q5_0_block(bytes, b);
                            v.iter().map(|&v| s * v as f32).collect()
                        }
                        GgmlDType::Q6K => {
                            let (s, q) = q6_k_block(bytes, b);
                            q.iter().enumerate().map(|(i, &q)| s[i / 16] * (q as f32 - 32.0)).collect()
                        }
                        _ => {
                            let (s, m, v) = q4_k_block(bytes, b);
                            v.iter().map(|&v| s * v as f32 - m).collect()
                        }
                    };
                    let largest = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let tolerance = 1e-6 * largest.max(1.0);
                    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
                        assert!((g - e).abs() <= tolerance, "{dtype:?} row {row} block {b} value {i}: {g} against candle's {e}");
                    }
                }
            }
        }
    }
}
