//! Where the models run: the user's choice (`--device`, the settings' `device` key) and the
//! candle device it resolves to.
//!
//! A CUDA build links the NVIDIA libraries when the process starts (docs/gpu.md), so by the time
//! this code runs the driver's library was found. What can still go wrong is no GPU, a driver
//! older than the CUDA 13.0 the binary was built with, or a GPU whose architecture the kernels
//! were not compiled for; each has its own error, saying what to do.

use std::fmt;
use std::str::FromStr;

use automix_types::ErrorCode;
use candle_core::Device;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The device the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    /// The first GPU where this is a CUDA build and the GPU passes its self-test, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// A CUDA GPU by its number (as `nvidia-smi` counts them, from 0).
    Cuda(usize),
}

impl FromStr for DeviceChoice {
    type Err = DeviceError;

    /// `auto`, `cpu`, `cuda` (GPU 0) or `cuda:N`, in any case.
    fn from_str(text: &str) -> Result<Self, DeviceError> {
        let lower = text.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => lower
                .strip_prefix("cuda:")
                .filter(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|number| number.parse().ok())
                .map(Self::Cuda)
                .ok_or_else(|| DeviceError::Unknown(text.trim().to_string())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

// As text, so the settings file holds `device = "cuda:0"`.
impl Serialize for DeviceChoice {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Why the chosen device cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{0:?} is not a device: use auto, cpu, cuda or cuda:N (N numbers the GPUs from 0)")]
    Unknown(String),
    #[error("device {0} needs the CUDA build of automix, and this one was built for the CPU only: build it with `make gpu` (docs/gpu.md), or run on the CPU: --device cpu")]
    NotBuilt(DeviceChoice),
    #[error("CUDA GPU {ordinal} is not there or not usable ({reason}); `nvidia-smi` lists the GPUs, or run on the CPU: --device cpu")]
    NoGpu { ordinal: usize, reason: String },
    #[error("the NVIDIA driver cannot run this CUDA 13.0 build ({reason}): install driver 580 or newer, or run the CPU build (`make build`, target/release/automix) or --device cpu")]
    Driver { reason: String },
    #[error("GPU {ordinal} ({gpu}) cannot run this build's kernels, compiled for compute capability {built} ({reason}): rebuild with `CUDA_COMPUTE_CAP={wanted} make gpu` (docs/gpu.md), or run on the CPU: --device cpu")]
    Architecture { ordinal: usize, gpu: String, built: &'static str, wanted: String, reason: String },
    #[error("CUDA GPU {ordinal} failed: {reason}")]
    Failed { ordinal: usize, reason: String },
}

impl DeviceError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unknown(_) => ErrorCode::DeviceUnknown,
            Self::NotBuilt(_) => ErrorCode::DeviceNotBuilt,
            Self::NoGpu { .. } => ErrorCode::DeviceNoGpu,
            Self::Driver { .. } => ErrorCode::DeviceDriver,
            Self::Architecture { .. } => ErrorCode::DeviceArchitecture,
            Self::Failed { .. } => ErrorCode::DeviceFailed,
        }
    }
}

/// The device for `choice`: `auto` takes the GPU where a CUDA build finds one that passes its
/// self-test and says so in the log, else the CPU; `cuda` fails with the reason instead.
pub fn select(choice: DeviceChoice) -> Result<Device, DeviceError> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Cuda(ordinal) => cuda::open(ordinal),
        DeviceChoice::Auto => Ok(auto()),
    }
}

fn auto() -> Device {
    #[cfg(feature = "cuda")]
    match cuda::open(0) {
        Ok(device) => {
            tracing::info!(device = %label(&device), "running the models on the GPU");
            return device;
        }
        Err(error) => tracing::warn!(code = %error.code(), "running the models on the CPU: {error}"),
    }
    #[cfg(feature = "metal")]
    if let Ok(device) = Device::new_metal(0) {
        return device;
    }
    Device::Cpu
}

/// A short name for logs and reports: `cpu`, `cuda:0 (NVIDIA H200, compute capability 9.0)`.
pub fn label(device: &Device) -> String {
    match device.location() {
        candle_core::DeviceLocation::Cpu => "cpu".to_string(),
        candle_core::DeviceLocation::Cuda { gpu_id } => match cuda::describe(device) {
            Some(gpu) => format!("cuda:{gpu_id} ({gpu})"),
            None => format!("cuda:{gpu_id}"),
        },
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::{DeviceChoice, DeviceError};
    use candle_core::Device;

    pub(super) fn open(ordinal: usize) -> Result<Device, DeviceError> {
        Err(DeviceError::NotBuilt(DeviceChoice::Cuda(ordinal)))
    }

    pub(super) fn describe(_: &Device) -> Option<String> {
        None
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::sync::Mutex;

    use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
    use candle_core::{Device, Module, Tensor};

    use super::DeviceError;

    /// The compute capability the kernels were compiled for (`make gpu` sets it).
    const BUILT_FOR: &str = match option_env!("CUDA_COMPUTE_CAP") {
        Some(cap) => cap,
        None => "of the build machine's GPU",
    };

    /// Devices opened so far, one per GPU: the chat model and the embedder then share one CUDA
    /// stream (so work queued from different threads runs in order) and the self-test runs once.
    static OPENED: Mutex<Vec<(usize, Device)>> = Mutex::new(Vec::new());

    pub(super) fn open(ordinal: usize) -> Result<Device, DeviceError> {
        let mut opened = OPENED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, device)) = opened.iter().find(|(n, _)| *n == ordinal) {
            return Ok(device.clone());
        }
        // Its own stream rather than CUDA's per-thread default one: models load on one thread and
        // answer on another, and one stream keeps the weights' uploads ahead of their use.
        let device = Device::new_cuda_with_stream(ordinal).map_err(|error| classify(ordinal, &error.to_string()))?;
        match self_test(&device) {
            Ok(None) => {}
            // Kernels that run and compute nonsense were built for another GPU.
            Ok(Some(reason)) => return Err(wrong_architecture(ordinal, &device, reason)),
            Err(error) => {
                let text = error.to_string();
                let built_for_another_gpu =
                    ["CUDA_ERROR_NO_BINARY_FOR_GPU", "CUDA_ERROR_INVALID_PTX", "CUDA_ERROR_INVALID_IMAGE"].iter().any(|name| text.contains(name));
                return Err(if built_for_another_gpu { wrong_architecture(ordinal, &device, first_line(&text)) } else { classify(ordinal, &text) });
            }
        }
        opened.push((ordinal, device.clone()));
        Ok(device)
    }

    /// "NVIDIA H200, compute capability 9.0".
    pub(super) fn describe(device: &Device) -> Option<String> {
        let context = device.as_cuda_device().ok()?.cuda_stream().context().clone();
        let (major, minor) = context.compute_capability().ok()?;
        Some(format!("{}, compute capability {major}.{minor}", context.name().ok()?))
    }

    /// Runs a quantized matmul, the op every layer uses, on the GPU for one row (decode) and for
    /// many (prefill), against the CPU; `Some(reason)` when the results differ. candle launches its
    /// quantized kernels without checking the launch, so kernels built for another architecture
    /// would otherwise give nonsense answers instead of an error.
    fn self_test(device: &Device) -> candle_core::Result<Option<String>> {
        let (n, k) = (64, 256);
        let weights = Tensor::arange(0f32, (n * k) as f32, &Device::Cpu)?.affine(0.37, 0.0)?.sin()?.reshape((n, k))?;
        let dequantized = QTensor::quantize(&weights, GgmlDType::Q8_0)?.dequantize(&Device::Cpu)?;
        let on_gpu = QMatMul::from_qtensor(QTensor::quantize(&weights.to_device(device)?, GgmlDType::Q8_0)?)?;
        for rows in [1, 16] {
            let x = Tensor::arange(0f32, (rows * k) as f32, &Device::Cpu)?.affine(0.11, 0.5)?.cos()?.reshape((rows, k))?;
            let expected: Vec<f32> = x.matmul(&dequantized.t()?)?.flatten_all()?.to_vec1()?;
            let got: Vec<f32> = on_gpu.forward(&x.to_device(device)?)?.flatten_all()?.to_vec1()?;
            let scale = expected.iter().fold(0f32, |m, v| m.max(v.abs()));
            let difference = expected.iter().zip(&got).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            // The GPU rounds activations to 8 bits: a few per cent of the scale at most. `max`
            // passes over NaN, hence the separate check.
            if !got.iter().all(|v| v.is_finite()) || difference > 0.05 * scale {
                return Ok(Some(format!("a quantized matmul of {rows} row(s) is off by {difference} for values up to {scale}")));
            }
        }
        device.synchronize()?;
        Ok(None)
    }

    fn wrong_architecture(ordinal: usize, device: &Device, reason: String) -> DeviceError {
        let capability = device.as_cuda_device().ok().and_then(|d| d.cuda_stream().context().compute_capability().ok());
        match capability {
            Some((major, minor)) => {
                DeviceError::Architecture { ordinal, gpu: describe(device).unwrap_or_default(), built: BUILT_FOR, wanted: format!("{major}{minor}"), reason }
            }
            None => DeviceError::Failed { ordinal, reason },
        }
    }

    /// Sorts a CUDA failure by what the user can do about it, from the error's name in its text.
    fn classify(ordinal: usize, text: &str) -> DeviceError {
        let reason = first_line(text);
        let has = |names: &[&str]| names.iter().any(|name| text.contains(name));
        if has(&[
            "CUDA_ERROR_INSUFFICIENT_DRIVER",
            "CUDA_ERROR_STUB_LIBRARY",
            "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH",
            "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE",
            "CUDA_ERROR_UNSUPPORTED_PTX_VERSION",
        ]) {
            DeviceError::Driver { reason }
        } else if has(&["CUDA_ERROR_NO_DEVICE", "CUDA_ERROR_INVALID_DEVICE", "CUDA_ERROR_DEVICE_UNAVAILABLE"]) {
            DeviceError::NoGpu { ordinal, reason }
        } else {
            DeviceError::Failed { ordinal, reason }
        }
    }

    /// candle appends a backtrace to some errors; the first line is the message.
    fn first_line(text: &str) -> String {
        text.lines().next().unwrap_or_default().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_parse_and_print_back() {
        for (text, choice) in [("auto", DeviceChoice::Auto), ("CPU", DeviceChoice::Cpu), (" cuda ", DeviceChoice::Cuda(0)), ("cuda:3", DeviceChoice::Cuda(3))] {
            assert_eq!(text.parse::<DeviceChoice>().unwrap(), choice, "{text:?}");
            assert_eq!(choice.to_string().parse::<DeviceChoice>().unwrap(), choice);
        }
        assert_eq!(DeviceChoice::Cuda(0).to_string(), "cuda:0");
        assert_eq!(DeviceChoice::default(), DeviceChoice::Auto);
        for bad in ["gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:+1", "cuda0", ""] {
            let error = bad.parse::<DeviceChoice>().unwrap_err();
            assert_eq!(error.code(), ErrorCode::DeviceUnknown, "{bad:?}");
            assert!(error.to_string().contains("auto, cpu, cuda or cuda:N"), "{error}");
        }
    }

    #[test]
    fn the_cpu_is_always_there() {
        assert!(select(DeviceChoice::Cpu).unwrap().is_cpu());
        assert_eq!(label(&Device::Cpu), "cpu");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_cpu_build_names_make_gpu_for_cuda_and_takes_the_cpu_for_auto() {
        let error = select(DeviceChoice::Cuda(1)).unwrap_err();
        assert_eq!(error.code(), ErrorCode::DeviceNotBuilt);
        assert!(error.to_string().contains("make gpu") && error.to_string().contains("cuda:1"), "{error}");
        #[cfg(not(feature = "metal"))]
        assert!(select(DeviceChoice::Auto).unwrap().is_cpu());
    }
}
