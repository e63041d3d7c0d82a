//! Opening GGUF files with checks that turn truncation and corruption into actionable errors.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::GgmlDType;

use crate::error::{LlmError, Result};

/// A GGUF file whose header parsed and whose tensor data is fully present on disk.
pub struct GgufFile {
    pub path: PathBuf,
    pub content: Content,
    pub reader: BufReader<File>,
    /// The whole file mapped read-only: the matrices are packed straight from it, without first
    /// copying 1 GB into fresh (zeroed) memory, which was a fifth of a 1.5B model's load.
    map: memmap2::Mmap,
}

/// One stored matrix: `rows` outputs of `k` inputs in `dtype`'s blocks, as the file holds them.
#[derive(Clone, Copy)]
pub struct MappedMatrix<'a> {
    pub dtype: GgmlDType,
    pub rows: usize,
    pub k: usize,
    pub data: &'a [u8],
}

impl GgufFile {
    pub fn open(path: &Path) -> Result<Self> {
        if !path.exists() {
            return Err(LlmError::ModelMissing { path: path.to_path_buf() });
        }
        let file = File::open(path).map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?;
        let file_len = file.metadata().map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?.len();
        let mut reader = BufReader::new(file);
        let damaged = |reason: String| LlmError::ModelDamaged { path: path.to_path_buf(), reason };
        let content = Content::read(&mut reader).map_err(|e| damaged(format!("unreadable GGUF header: {e}")))?;
        // The header alone parses fine on a truncated download, so check that every tensor's bytes exist.
        let data_end = content
            .tensor_infos
            .values()
            .map(|info| {
                let bytes = info.shape.elem_count() / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
                content.tensor_data_offset + info.offset + bytes as u64
            })
            .max()
            .unwrap_or(content.tensor_data_offset);
        if data_end > file_len {
            return Err(damaged(format!("file is {file_len} bytes but its tensors need {data_end}: truncated")));
        }
        let file = reader.get_ref();
        let options = memmap2::MmapOptions::new();
        // SAFETY: the mapping is read-only and lives only while the model loads; model files are
        // written once by the model manager (moved into place whole) and never changed in place.
        let map = unsafe { options.map(file) }.map_err(|source| LlmError::Io { path: path.to_path_buf(), source })?;
        Ok(Self { path: path.to_path_buf(), content, reader, map })
    }

    pub fn metadata(&self, key: &str) -> Option<&Value> {
        self.content.metadata.get(key)
    }

    pub fn string(&self, key: &str) -> Result<String> {
        self.metadata(key).and_then(|v| v.to_string().ok().cloned()).ok_or_else(|| LlmError::Metadata(key.to_string()))
    }

    pub fn usize(&self, key: &str) -> Result<usize> {
        self.metadata(key)
            .and_then(|v| v.to_u64().ok().or_else(|| v.to_u32().ok().map(u64::from)))
            .map(|v| v as usize)
            .ok_or_else(|| LlmError::Metadata(key.to_string()))
    }

    pub fn f64(&self, key: &str) -> Result<f64> {
        self.metadata(key).and_then(|v| v.to_f32().ok().map(f64::from).or_else(|| v.to_f64().ok())).ok_or_else(|| LlmError::Metadata(key.to_string()))
    }

    /// The 2-D tensor `name` as stored (its GGUF blocks), read from the mapped file.
    pub fn matrix(&self, name: &str) -> Result<MappedMatrix<'_>> {
        let damaged = |reason: String| LlmError::ModelDamaged { path: self.path.clone(), reason: format!("tensor `{name}`: {reason}") };
        let info = self.content.tensor_infos.get(name).ok_or_else(|| damaged("missing".into()))?;
        let (rows, k) = info.shape.dims2().map_err(|e| damaged(e.to_string()))?;
        let bytes = rows * k / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let start = (self.content.tensor_data_offset + info.offset) as usize;
        // `open` checked that every tensor's bytes are in the file.
        Ok(MappedMatrix { dtype: info.ggml_dtype, rows, k, data: &self.map[start..start + bytes] })
    }

    /// Drops the mapped pages of matrices already packed from this process's resident memory
    /// (they stay in the page cache), so a load's peak is the packed weights, not the packed
    /// weights plus the whole file.
    pub fn release(&self, matrices: &[MappedMatrix]) {
        #[cfg(unix)]
        for m in matrices {
            let start = m.data.as_ptr() as usize - self.map.as_ptr() as usize;
            // SAFETY: the range lies in the read-only file mapping; after DONTNEED a read of it
            // faults the file's page in again, so the slices handed out stay valid.
            let _ = unsafe { self.map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, m.data.len()) };
        }
        #[cfg(not(unix))]
        let _ = matrices;
    }

    pub fn has_tensor(&self, name: &str) -> bool {
        self.content.tensor_infos.contains_key(name)
    }

    pub fn tensor(&mut self, name: &str, device: &candle_core::Device) -> Result<candle_core::quantized::QTensor> {
        let path = self.path.clone();
        self.content.tensor(&mut self.reader, name, device).map_err(|e| LlmError::ModelDamaged { path, reason: format!("tensor `{name}`: {e}") })
    }
}
