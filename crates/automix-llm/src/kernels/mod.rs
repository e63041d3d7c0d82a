//! CPU kernels for the forward pass: int8 and 4-bit matrix multiplies over weights repacked at load
//! time (Q8_0, Q5_0 and Q6_K as int8, Q4_K as nibbles: every type of a Q4_K_M file),
//! element-wise and attention kernels for the decoder's own CPU loop, and a small thread pool in
//! which the calling thread works too.
//!
//! Three instruction sets are served: AVX-512 VNNI (servers, AMD Zen 4 and later), AVX-VNNI (Intel
//! laptops since Alder Lake) and AVX2 + FMA (older laptops). The matmul has a hand-written kernel per
//! set (one generic kernel for both VNNI sets); the element-wise and attention kernels are plain Rust
//! written so the compiler vectorises them, compiled once per set through `multiversion!`. Elsewhere
//! (aarch64, old x86) [`available`] is false and callers keep candle's own kernels.
//!
//! `AUTOMIX_CPU_KERNELS=avx512|avxvnni|avx2|generic` forces a lower set than the CPU has (never a higher
//! one), so each path can be measured on one machine; `generic` turns the kernels off.

mod attention;
mod elementwise;
mod ggml;
mod int8;
mod lanes;
mod matrix;
mod pool;
#[cfg(test)]
mod proptests;
mod q4;
mod q6;
mod q8;
mod vector;

pub use attention::{attention, AttentionShape, KvLayer, KEYS_PER_BLOCK};
pub use elementwise::{gelu_erf_in_place, softmax_prefix_in_place};
pub use matrix::{matmul, GgmlMatrix, PackedMatrix};
pub use q4::PackedQ4;
pub use q6::PackedQ6;
pub use q8::PackedQ8;
pub use vector::{add_in_place, rms_norm_rows, rope_rows, silu_mul_rows, RopeStyle};

pub(crate) use pool::pool;

use std::sync::OnceLock;

/// The instruction sets the kernels are written for, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// No kernels of ours: candle's.
    Generic,
    /// AVX2 + FMA (+ F16C, which every AVX2 CPU has): 256-bit registers, `vpmaddubsw` for the int8
    /// dot products.
    Avx2,
    /// AVX2 + FMA + AVX-VNNI: 256-bit `vpdpbusd`. A CPU with AVX-512 VNNI runs it too, with that
    /// set's encoding of the same instruction, so it is always below `Avx512`.
    AvxVnni,
    /// AVX-512 F/BW/VL + VNNI: 512-bit registers, `vpdpbusd`.
    Avx512,
}

impl Isa {
    /// The best set this CPU supports.
    pub fn detected() -> Isa {
        static DETECTED: OnceLock<Isa> = OnceLock::new();
        *DETECTED.get_or_init(Self::detect)
    }

    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let has = |features: &[bool]| features.iter().all(|&f| f);
            if has(&[
                is_x86_feature_detected!("avx512f"),
                is_x86_feature_detected!("avx512bw"),
                is_x86_feature_detected!("avx512vl"),
                is_x86_feature_detected!("avx512vnni"),
                is_x86_feature_detected!("avx2"),
                is_x86_feature_detected!("fma"),
                is_x86_feature_detected!("f16c"),
            ]) {
                return Isa::Avx512;
            }
            if has(&[is_x86_feature_detected!("avx2"), is_x86_feature_detected!("fma"), is_x86_feature_detected!("f16c"), is_x86_feature_detected!("avxvnni")])
            {
                return Isa::AvxVnni;
            }
            if has(&[is_x86_feature_detected!("avx2"), is_x86_feature_detected!("fma"), is_x86_feature_detected!("f16c")]) {
                return Isa::Avx2;
            }
        }
        Isa::Generic
    }

    /// Every set this CPU can run, lowest first: what tests compare.
    pub fn all_supported() -> Vec<Isa> {
        [Isa::Generic, Isa::Avx2, Isa::AvxVnni, Isa::Avx512].into_iter().filter(|&isa| isa <= Isa::detected()).collect()
    }

    fn from_name(name: &str) -> Option<Isa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" => Some(Isa::Avx512),
            "avx2" => Some(Isa::Avx2),
            "avxvnni" => Some(Isa::AvxVnni),
            "generic" => Some(Isa::Generic),
            _ => None,
        }
    }
}

/// The set the kernels use: the CPU's best, lowered by `AUTOMIX_CPU_KERNELS` if that names a lower one.
pub fn isa() -> Isa {
    static ISA: OnceLock<Isa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let detected = Isa::detected();
        let Ok(requested) = std::env::var("AUTOMIX_CPU_KERNELS") else { return detected };
        match Isa::from_name(&requested) {
            Some(isa) if isa <= detected => {
                tracing::info!(?isa, "CPU kernels chosen by AUTOMIX_CPU_KERNELS");
                isa
            }
            Some(isa) => {
                tracing::warn!(?isa, ?detected, "AUTOMIX_CPU_KERNELS asks for more than this CPU has; using what it has");
                detected
            }
            None => {
                tracing::warn!(%requested, "AUTOMIX_CPU_KERNELS is not avx512, avxvnni, avx2 or generic; ignored");
                detected
            }
        }
    })
}

/// True where the CPU kernels run (x86-64 with AVX2 + FMA at least, not turned off).
pub fn available() -> bool {
    isa() > Isa::Generic
}

/// Defines `fn name(isa: Isa, args…)` that runs `body` compiled with the target features of `isa`,
/// so the plain loops of `body` are vectorised for that set: one copy per set, each with `body`
/// inlined into a `#[target_feature]` function. Helpers `body` calls must be `#[inline(always)]`
/// to be compiled so too.
///
/// The function panics when `isa` is above what the CPU has (a caller bug: sets come from
/// [`isa`] or [`Isa::all_supported`]).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name(isa: $crate::kernels::Isa, $($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma")]
            #[allow(clippy::too_many_arguments)]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { body($($arg),*) }
            assert!(isa <= $crate::kernels::Isa::detected(), "{isa:?} kernels called on a CPU without them");
            match isa {
                $crate::kernels::Isa::Generic => body($($arg),*),
                // SAFETY: the assertion above checked the CPU features.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::Isa::Avx2 | $crate::kernels::Isa::AvxVnni => unsafe { avx2($($arg),*) },
                // SAFETY: as above.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::Isa::Avx512 => unsafe { avx512($($arg),*) },
                #[cfg(not(target_arch = "x86_64"))]
                _ => unreachable!("only x86-64 detects more than the generic set"),
            }
        }
    };
}
pub(crate) use multiversion;

/// A raw pointer that parallel items write through, each to its own disjoint part.
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// By hand: derived impls would ask T to be Copy too.
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: a `SendPtr` is only dereferenced inside the `unsafe` blocks of the kernels, each of
// which writes a part of the buffer no other item writes (the pool's items are disjoint ranges),
// while the buffer's owner waits for the pool.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as for `Send`: shared between the pool's threads, written only at disjoint places.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

/// `x · wᵀ` over the last dimension of a CPU f32 tensor, for a weight matrix of `n` rows by `k`
/// inputs whose matmul on slices is `matmul(input, out)`.
pub(crate) fn forward_tensor(x: &candle_core::Tensor, n: usize, k: usize, matmul: impl FnOnce(&[f32], &mut [f32])) -> candle_core::Result<candle_core::Tensor> {
    let mut dims = x.dims().to_vec();
    let input = x.flatten_all()?.to_vec1::<f32>()?;
    let mut out = vec![0f32; input.len() / k * n];
    matmul(&input, &mut out);
    if let Some(last) = dims.last_mut() {
        *last = n;
    }
    candle_core::Tensor::from_vec(out, dims, x.device())
}

/// `make(0)`, …, `make(count − 1)` built over the pool: packing a model's matrices at load time.
pub(crate) fn build_parallel<T: Send>(count: usize, make: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let mut items: Vec<T> = Vec::with_capacity(count);
    ask_for_huge_pages(items.as_mut_ptr() as *mut u8, count * std::mem::size_of::<T>());
    let dst = SendPtr(items.as_mut_ptr());
    for_each_range(count, 1, true, |range| {
        for i in range {
            // SAFETY: i < count, inside the capacity; each index is written once, by one item.
            unsafe { dst.get().add(i).write(make(i)) };
        }
    });
    // SAFETY: every index in 0..count was written above (a panic in `make` is re-raised by the pool
    // before this line, leaking what was written and never exposing what was not).
    unsafe { items.set_len(count) };
    items
}

/// Asks Linux to back the 2 MiB-aligned part of a fresh allocation with huge pages (where
/// transparent huge pages are on "madvise", the default of many distributions): decode streams every
/// weight once per token, and with 4 KiB pages it paid a TLB miss every 4 KiB.
fn ask_for_huge_pages(start: *mut u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let first = (start as usize).next_multiple_of(HUGE);
        let end = (start as usize + len) / HUGE * HUGE;
        if end > first {
            // SAFETY: the range lies inside the caller's allocation; MADV_HUGEPAGE only advises.
            let _ = unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, len);
}

/// Splits `0..total` into about `per_thread` items per pool thread (at least `min_len` each) and
/// runs `work(range)` for each, in parallel when `parallel`.
pub(crate) fn for_each_range(total: usize, min_len: usize, parallel: bool, work: impl Fn(std::ops::Range<usize>) + Sync) {
    const PER_THREAD: usize = 4;
    if total == 0 {
        return;
    }
    let threads = if parallel { pool().threads() } else { 1 };
    let len = total.div_ceil(threads * PER_THREAD).max(min_len).max(1);
    let items = total.div_ceil(len);
    let run = |item: usize| work(item * len..total.min((item + 1) * len));
    if items > 1 && parallel {
        pool().run(items, &run);
    } else {
        (0..items).for_each(run);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_set_names_parse_and_order() {
        assert_eq!(Isa::from_name(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::from_name("avx512"), Some(Isa::Avx512));
        assert_eq!(Isa::from_name("generic"), Some(Isa::Generic));
        assert_eq!(Isa::from_name("sse"), None);
        assert_eq!(Isa::from_name("avxvnni"), Some(Isa::AvxVnni));
        assert!(Isa::Generic < Isa::Avx2 && Isa::Avx2 < Isa::AvxVnni && Isa::AvxVnni < Isa::Avx512);
        assert!(isa() <= Isa::detected());
        assert_eq!(Isa::all_supported().last(), Some(&Isa::detected()));
    }
}
