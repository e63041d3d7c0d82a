//! Re-quantizing GGUF files to Q8_0, which candle runs on fast SIMD kernels (its Q4_1/Q5 paths are scalar).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use candle_core::quantized::{gguf_file, GgmlDType, QTensor};
use candle_core::Device;

use crate::error::{LlmError, Result};
use crate::gguf::GgufFile;

/// GGUF `general.file_type` for "mostly Q8_0".
const FILE_TYPE_Q8_0: u32 = 7;

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConvertReport {
    pub tensors: usize,
    pub requantized: usize,
    pub bytes_written: u64,
}

/// Whether a tensor type is one candle runs slowly on CPU and Q8_0 represents without loss of quality.
fn needs_requantizing(dtype: GgmlDType) -> bool {
    matches!(dtype, GgmlDType::Q4_0 | GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1)
}

/// Writes a copy of `input` with every Q4/Q5 tensor re-quantized to Q8_0. The output appears only
/// once complete (written beside it, then renamed), so an interrupted run leaves no half file.
pub fn convert_to_q8_0(input: &Path, output: &Path, on_tensor: &mut dyn FnMut(usize, usize)) -> Result<ConvertReport> {
    let mut gguf = GgufFile::open(input)?;
    let device = Device::Cpu;
    let mut names: Vec<String> = gguf.content.tensor_infos.keys().cloned().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(names.len());
    let mut requantized = 0;
    for (done, name) in names.iter().enumerate() {
        let tensor = gguf.tensor(name, &device)?;
        let tensor = if needs_requantizing(tensor.dtype()) {
            requantized += 1;
            QTensor::quantize(&tensor.dequantize(&device)?, GgmlDType::Q8_0)?
        } else {
            tensor
        };
        tensors.push((name.clone(), tensor));
        on_tensor(done + 1, names.len());
    }
    let file_type = gguf_file::Value::U32(FILE_TYPE_Q8_0);
    let mut metadata: Vec<(&str, &gguf_file::Value)> =
        gguf.content.metadata.iter().filter(|(k, _)| k.as_str() != "general.file_type").map(|(k, v)| (k.as_str(), v)).collect();
    metadata.push(("general.file_type", &file_type));
    let partial = output.with_extension("gguf.partial");
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LlmError::Io { path, source }
    };
    let mut writer = BufWriter::new(File::create(&partial).map_err(io_err(&partial))?);
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(&mut writer, &metadata, &tensor_refs)?;
    drop(writer);
    std::fs::rename(&partial, output).map_err(io_err(output))?;
    let bytes_written = std::fs::metadata(output).map_err(io_err(output))?.len();
    Ok(ConvertReport { tensors: tensors.len(), requantized, bytes_written })
}
