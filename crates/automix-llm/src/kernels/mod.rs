//! CPU kernels for the forward pass: a Q8_0 matrix multiply on AVX-512 VNNI over weights repacked
//! at load time, and a small thread pool in which the calling thread works too.
//!
//! candle 0.11's own x86 Q8_0 path needs the inner dimension to be a multiple of 256 (SmolLM2's is
//! 576), so most of its matmuls fell back to one dot product per (row, column) pair. Here 16 output
//! columns are interleaved so one `vpdpbusd` multiplies 4 inputs into 16 columns at once, and
//! activations are quantized to Q8_0 blocks of 32 like llama.cpp does.

mod elementwise;

pub use elementwise::{gelu_erf_in_place, softmax_prefix_in_place};

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{DType, Tensor};
use half::f16;

/// Weights in a Q8_0 block: 32 values sharing one scale.
pub(crate) const BLOCK: usize = 32;
/// Output columns interleaved per tile: one 512-bit register of f32 or i32.
pub(crate) const TILE: usize = 16;
/// Bytes of one GGUF Q8_0 block: an f16 scale, then 32 signed bytes.
const Q8_0_BLOCK_BYTES: usize = 2 + BLOCK;
/// Activation rows a kernel call keeps in registers while it reuses one tile of weights.
const ROWS: usize = 8;
/// Activation rows per work item in prefill: enough to amortise the weight tile, small enough to balance.
const ROWS_PER_ITEM: usize = 64;
/// Below this many multiply-adds a matmul runs on the calling thread alone: waking a worker, and
/// waiting on one the OS has descheduled mid-item, costs more than it saves (measured on decode).
const MIN_PARALLEL_WORK: usize = 4 << 20;

/// True where the CPU kernels can run (x86-64 with AVX-512 F/BW and VNNI).
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// One block of 32 inputs for the 16 columns of a tile: weights stored +128 as u8, interleaved
/// [input quad (8)][column (16)][4 inputs], so a 64-byte row feeds one `vpdpbusd`.
#[repr(C, align(64))]
struct TileBlock {
    qs: [u8; BLOCK * TILE],
    scales: [f32; TILE],
}

/// A Q8_0 weight matrix of `n` output rows by `k` inputs, repacked for [`matmul`].
pub struct PackedQ8 {
    n: usize,
    k: usize,
    /// Tile-major: tile `t` holds blocks `t * k / 32 ..`.
    tiles: Vec<TileBlock>,
}

impl PackedQ8 {
    /// Packs GGUF Q8_0 bytes of several matrices with the same `k`, stacked along the output rows.
    /// None when the shapes do not fit the kernel.
    pub fn from_q8_0(parts: &[(&[u8], usize)], k: usize) -> Option<Self> {
        if k == 0 || !k.is_multiple_of(BLOCK) {
            return None;
        }
        let blocks_per_row = k / BLOCK;
        let row_bytes = blocks_per_row * Q8_0_BLOCK_BYTES;
        let n: usize = parts.iter().map(|(_, rows)| rows).sum();
        if parts.iter().any(|(bytes, rows)| bytes.len() != rows * row_bytes) {
            return None;
        }
        let rows: Vec<&[u8]> = parts.iter().flat_map(|(bytes, _)| bytes.chunks_exact(row_bytes)).collect();
        let n_tiles = n.div_ceil(TILE);
        let mut tiles = Vec::with_capacity(n_tiles * blocks_per_row);
        for tile in 0..n_tiles {
            for block in 0..blocks_per_row {
                // Padding columns past `n` stay zero: their results are never stored.
                let mut packed = TileBlock { qs: [128; BLOCK * TILE], scales: [0.0; TILE] };
                for col in 0..TILE {
                    let Some(row) = rows.get(tile * TILE + col) else { break };
                    let src = &row[block * Q8_0_BLOCK_BYTES..(block + 1) * Q8_0_BLOCK_BYTES];
                    packed.scales[col] = f16::from_le_bytes([src[0], src[1]]).to_f32();
                    for (i, &q) in src[2..].iter().enumerate() {
                        packed.qs[(i / 4) * TILE * 4 + col * 4 + i % 4] = q ^ 0x80;
                    }
                }
                tiles.push(packed);
            }
        }
        Some(Self { n, k, tiles })
    }

    /// Quantizes an f32 matrix of shape (n, k) to Q8_0 and packs it; None when k is not a
    /// multiple of 32.
    pub fn quantize(weights: &Tensor) -> candle_core::Result<Option<Self>> {
        let (n, k) = weights.dims2()?;
        if !k.is_multiple_of(BLOCK) {
            return Ok(None);
        }
        let q = QTensor::quantize(&weights.to_dtype(DType::F32)?, GgmlDType::Q8_0)?;
        Ok(Self::from_q8_0(&[(q.data()?.as_ref(), n)], k))
    }

    /// `x · wᵀ` over the last dimension of a CPU f32 tensor. Panics without the CPU kernels
    /// ([`available`]).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut dims = x.dims().to_vec();
        let input = x.flatten_all()?.to_vec1::<f32>()?;
        let mut out = vec![0f32; input.len() / self.k * self.n];
        matmul(&input, self, &mut out);
        if let Some(last) = dims.last_mut() {
            *last = self.n;
        }
        Tensor::from_vec(out, dims, x.device())
    }
}

/// Activations quantized to Q8_0 blocks, with each block's sum times 128 so the kernel can undo
/// the +128 offset of the weights.
#[derive(Default)]
struct QuantizedRows {
    qs: Vec<i8>,
    scales: Vec<f32>,
    offsets: Vec<i32>,
}

/// `out[m × n] = x[m × k] · wᵀ`. Panics if the slices do not match the shapes (a caller bug).
pub fn matmul(x: &[f32], w: &PackedQ8, out: &mut [f32]) {
    assert!(available(), "CPU kernels called without AVX-512 VNNI");
    let (n, k) = (w.n, w.k);
    let m = x.len() / k;
    assert_eq!(x.len(), m * k, "activation length is not a multiple of k");
    assert_eq!(out.len(), m * n, "output length does not match m × n");
    thread_local! {
        static SCRATCH: std::cell::RefCell<QuantizedRows> = std::cell::RefCell::new(QuantizedRows::default());
    }
    SCRATCH.with(|scratch| {
        let mut a = scratch.borrow_mut();
        let blocks = m * k / BLOCK;
        a.qs.resize(m * k, 0);
        a.scales.resize(blocks, 0.0);
        a.offsets.resize(blocks, 0);
        let QuantizedRows { qs, scales, offsets } = &mut *a;
        // SAFETY: available() checked the CPU features.
        unsafe { x86::quantize(x, qs, scales, offsets) };
        let a = &*a;
        let n_tiles = n.div_ceil(TILE);
        let row_chunks = m.div_ceil(ROWS_PER_ITEM);
        let out_ptr = SendPtr(out.as_mut_ptr());
        let work = |item: usize| {
            let (tile, chunk) = (item % n_tiles, item / n_tiles);
            let rows = chunk * ROWS_PER_ITEM..m.min((chunk + 1) * ROWS_PER_ITEM);
            let blocks_per_row = k / BLOCK;
            let weights = &w.tiles[tile * blocks_per_row..(tile + 1) * blocks_per_row];
            let cols = TILE.min(n - tile * TILE);
            // SAFETY: each (tile, row chunk) item writes a disjoint part of `out`, inside its bounds.
            unsafe { x86::tile_rows(weights, a, k, rows, out_ptr.get().add(tile * TILE), n, cols) };
        };
        if m * n * k >= MIN_PARALLEL_WORK {
            pool().run(n_tiles * row_chunks, &work);
        } else {
            (0..n_tiles * row_chunks).for_each(work);
        }
    });
}

#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}

impl SendPtr {
    fn get(self) -> *mut f32 {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{QuantizedRows, TileBlock, BLOCK, ROWS, TILE};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn quantize(x: &[f32], qs: &mut [i8], scales: &mut [f32], offsets: &mut [i32]) {
        for (b, (src, dst)) in x.chunks_exact(BLOCK).zip(qs.chunks_exact_mut(BLOCK)).enumerate() {
            let lo = _mm512_loadu_ps(src.as_ptr());
            let hi = _mm512_loadu_ps(src.as_ptr().add(16));
            let amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(lo), _mm512_abs_ps(hi)));
            let scale = amax / 127.0;
            let inverse = _mm512_set1_ps(if amax > 0.0 { 127.0 / amax } else { 0.0 });
            let qlo = _mm512_cvtps_epi32(_mm512_mul_ps(lo, inverse));
            let qhi = _mm512_cvtps_epi32(_mm512_mul_ps(hi, inverse));
            _mm_storeu_si128(dst.as_mut_ptr() as *mut __m128i, _mm512_cvtsepi32_epi8(qlo));
            _mm_storeu_si128(dst.as_mut_ptr().add(16) as *mut __m128i, _mm512_cvtsepi32_epi8(qhi));
            scales[b] = scale;
            offsets[b] = 128 * _mm512_reduce_add_epi32(_mm512_add_epi32(qlo, qhi));
        }
    }

    /// Computes the columns of one tile for `rows`, `ROWS` rows at a time.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile_rows(
        weights: &[TileBlock],
        a: &QuantizedRows,
        k: usize,
        rows: std::ops::Range<usize>,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        let mut row = rows.start;
        while row < rows.end {
            let count = ROWS.min(rows.end - row);
            match count {
                8 => rows_n::<8>(weights, a, k, row, out, out_stride, cols),
                4..=7 => {
                    rows_n::<4>(weights, a, k, row, out, out_stride, cols);
                    row += 4;
                    continue;
                }
                2..=3 => {
                    rows_n::<2>(weights, a, k, row, out, out_stride, cols);
                    row += 2;
                    continue;
                }
                _ => rows_n::<1>(weights, a, k, row, out, out_stride, cols),
            }
            row += count;
        }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn rows_n<const R: usize>(
        weights: &[TileBlock],
        a: &QuantizedRows,
        k: usize,
        row0: usize,
        out: *mut f32,
        out_stride: usize,
        cols: usize,
    ) {
        let blocks_per_row = k / BLOCK;
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, tile) in weights.iter().enumerate() {
            let w: [__m512i; 8] = std::array::from_fn(|g| _mm512_load_si512(tile.qs.as_ptr().add(g * 64) as *const _));
            let w_scales = _mm512_load_ps(tile.scales.as_ptr());
            for (r, acc) in acc.iter_mut().enumerate() {
                let block = (row0 + r) * blocks_per_row + b;
                let act = a.qs.as_ptr().add(block * BLOCK) as *const i32;
                let mut dot = _mm512_set1_epi32(-*a.offsets.get_unchecked(block));
                for (g, w) in w.iter().enumerate() {
                    dot = _mm512_dpbusd_epi32(dot, *w, _mm512_set1_epi32(act.add(g).read_unaligned()));
                }
                let scale = _mm512_mul_ps(w_scales, _mm512_set1_ps(*a.scales.get_unchecked(block)));
                *acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, *acc);
            }
        }
        let mask: __mmask16 = if cols == TILE { 0xffff } else { (1u16 << cols) - 1 };
        for (r, acc) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add((row0 + r) * out_stride), mask, *acc);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    use super::{QuantizedRows, TileBlock};

    pub(super) unsafe fn quantize(_: &[f32], _: &mut [i8], _: &mut [f32], _: &mut [i32]) {
        unreachable!("CPU kernels are only selected on x86-64")
    }

    pub(super) unsafe fn tile_rows(_: &[TileBlock], _: &QuantizedRows, _: usize, _: std::ops::Range<usize>, _: *mut f32, _: usize, _: usize) {
        unreachable!("CPU kernels are only selected on x86-64")
    }
}

/// A job: items `0..total` handed out one at a time to whichever thread asks first.
struct Job {
    work: *const (dyn Fn(usize) + Sync),
    next: AtomicUsize,
    done: AtomicUsize,
    total: usize,
    /// The first panic of an item, re-raised on the calling thread once every item is done.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

// SAFETY: `work` is only called for claimed items below `total`, and `Pool::run` does not return
// or unwind (so the closure stays alive) until every such item is done: a panicking item is
// caught and still counted as done.
unsafe impl Send for Job {}
unsafe impl Sync for Job {}

impl Job {
    /// Runs items until none are left to claim.
    fn help(&self) {
        loop {
            let item = self.next.fetch_add(1, Ordering::Relaxed);
            if item >= self.total {
                return;
            }
            // SAFETY: see the impl Send above.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { (*self.work)(item) }));
            if let Err(payload) = outcome {
                self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(payload);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

#[derive(Default)]
struct Slot {
    job: Option<Arc<Job>>,
    sleeping: usize,
}

#[derive(Default)]
struct Shared {
    slot: Mutex<Slot>,
    wake: Condvar,
    generation: AtomicU64,
}

/// Workers plus the calling thread share each job through an item counter, so a worker the OS
/// has descheduled delays nobody: its items are taken by the others (unlike a fixed split).
pub(crate) struct Pool {
    shared: Arc<Shared>,
    workers: usize,
    /// One job at a time; a second concurrent caller runs its job alone.
    running: Mutex<()>,
}

/// Spins this many times for the next job before sleeping: decode issues one every few µs.
const SPINS: u32 = 20_000;

pub(crate) fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(candle_core::utils::get_num_threads().saturating_sub(1)))
}

impl Pool {
    fn new(workers: usize) -> Self {
        let shared = Arc::new(Shared::default());
        let workers = (0..workers)
            .filter(|i| {
                let shared = shared.clone();
                std::thread::Builder::new().name(format!("automix-llm-{i}")).spawn(move || worker(&shared)).is_ok()
            })
            .count();
        Self { shared, workers, running: Mutex::new(()) }
    }

    /// Calls `work(item)` for every item in `0..total`, on this thread and the workers.
    pub(crate) fn run(&self, total: usize, work: &(dyn Fn(usize) + Sync)) {
        let guard = if self.workers > 0 && total > 1 { self.running.try_lock().ok() } else { None };
        if guard.is_none() {
            (0..total).for_each(work);
            return;
        }
        // SAFETY: the lifetime is erased only for the duration of this call; see `Job`.
        let work: *const (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(work) };
        let job = Arc::new(Job { work, next: AtomicUsize::new(0), done: AtomicUsize::new(0), total, panic: Mutex::new(None) });
        let wake = {
            let mut slot = self.shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.job = Some(job.clone());
            self.shared.generation.fetch_add(1, Ordering::Release);
            slot.sleeping > 0
        };
        if wake {
            self.shared.wake.notify_all();
        }
        job.help();
        let mut spins = 0u32;
        while job.done.load(Ordering::Acquire) < total {
            spins += 1;
            if spins < SPINS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        let panic = job.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(payload) = panic {
            std::panic::resume_unwind(payload);
        }
    }
}

fn worker(shared: &Shared) {
    let mut seen = 0;
    loop {
        let mut spins = 0u32;
        while shared.generation.load(Ordering::Acquire) == seen && spins < SPINS {
            spins += 1;
            std::hint::spin_loop();
        }
        let job = {
            let mut slot = shared.slot.lock().unwrap_or_else(|e| e.into_inner());
            while shared.generation.load(Ordering::Acquire) == seen {
                slot.sleeping += 1;
                slot = shared.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                slot.sleeping -= 1;
            }
            seen = shared.generation.load(Ordering::Acquire);
            slot.job.clone()
        };
        if let Some(job) = job {
            job.help();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::quantized::QMatMul;
    use candle_core::{Device, Module};

    /// A panicking item reaches the caller, after every claimed item has finished, and the pool
    /// keeps working (no worker thread dies, no later job waits forever).
    #[test]
    fn a_panicking_item_is_re_raised_on_the_caller_and_the_pool_survives() {
        let finished = AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool().run(64, &|item| {
                assert!(item != 13, "item 13 fails");
                finished.fetch_add(1, Ordering::Relaxed);
            })
        }));
        assert!(outcome.is_err(), "the panic must reach the caller");
        // (How many other items ran depends on whether another test held the pool.)
        assert!(finished.load(Ordering::Relaxed) >= 13);
        let sum = AtomicUsize::new(0);
        pool().run(100, &|item| {
            sum.fetch_add(item, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 4950);
    }

    /// Against an f32 matmul with the dequantized weights, the only error left is the 8-bit
    /// rounding of the activations, which candle's matmul makes too: a few % of the output's rms at
    /// worst, for odd shapes as well.
    #[test]
    fn matmul_matches_dequantized_weights() {
        if !available() {
            eprintln!("CPU kernels unavailable on this machine");
            return;
        }
        for (m, k, n) in [(1, 64, 16), (3, 96, 40), (70, 576, 200), (9, 32, 7)] {
            let w = Tensor::randn(0f32, 1.0, (n, k), &Device::Cpu).unwrap();
            let x = Tensor::randn(0f32, 1.0, (m, k), &Device::Cpu).unwrap();
            let q = QTensor::quantize(&w, GgmlDType::Q8_0).unwrap();
            let packed = PackedQ8::from_q8_0(&[(q.data().unwrap().as_ref(), n)], k).unwrap();
            let mut out = vec![0f32; m * n];
            matmul(&x.flatten_all().unwrap().to_vec1().unwrap(), &packed, &mut out);
            let exact: Vec<f32> = x.matmul(&q.dequantize(&Device::Cpu).unwrap().t().unwrap()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let candle: Vec<f32> = QMatMul::from_qtensor(q).unwrap().forward(&x).unwrap().flatten_all().unwrap().to_vec1().unwrap();
            let rms = (exact.iter().map(|v| v * v).sum::<f32>() / exact.len() as f32).sqrt();
            let err = |got: &[f32]| got.iter().zip(&exact).fold(0f32, |e, (a, b)| e.max((a - b).abs())) / rms;
            assert!(err(&out) < 0.05 && err(&out) < 1.2 * err(&candle), "({m},{k},{n}): max error {} of the output rms, candle's {}", err(&out), err(&candle));
        }
    }
}
