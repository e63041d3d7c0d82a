//! Finding and binding PDFium, the PDF engine behind the extractor, once per process.
//!
//! PDFium ships as a shared library next to the executables (`make build` puts it there; see
//! docs/pdf-extraction.md). PDFium is not thread-safe, so every use goes through one process-wide
//! lock: documents are read one at a time, whichever thread asks.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use pdfium_render::prelude::Pdfium;

/// Names the library file to use, overriding the search beside the executable.
pub(super) const PDFIUM_ENV: &str = "AUTOMIX_PDFIUM";

static ENGINE: OnceLock<Result<Mutex<Pdfium>, String>> = OnceLock::new();

/// The bound engine, locked for the caller; the error says where the library was looked for.
pub(super) fn lock() -> Result<MutexGuard<'static, Pdfium>, String> {
    let engine = ENGINE.get_or_init(|| bind(&library_candidates()).map(Mutex::new));
    match engine {
        // A panic while reading one document leaves PDFium itself usable: its state is per document.
        Ok(engine) => Ok(engine.lock().unwrap_or_else(|poisoned| poisoned.into_inner())),
        Err(reason) => Err(reason.clone()),
    }
}

/// Binds the first candidate that exists.
fn bind(candidates: &[PathBuf]) -> Result<Pdfium, String> {
    let Some(library) = candidates.iter().find(|candidate| candidate.is_file()) else {
        let searched: Vec<String> = candidates.iter().map(|path| path.display().to_string()).collect();
        return Err(format!(
            "the PDF engine (PDFium) is not installed: no {} in {}; run `make build`, or set {PDFIUM_ENV} to the library's path",
            library_file_name(),
            searched.join(", ")
        ));
    };
    let bindings = Pdfium::bind_to_library(library).map_err(|error| format!("the PDF engine {} cannot be loaded: {error}", library.display()))?;
    tracing::debug!(library = %library.display(), "PDFium bound");
    Ok(Pdfium::new(bindings))
}

fn library_file_name() -> String {
    Pdfium::pdfium_platform_library_name().to_string_lossy().into_owned()
}

/// Where the library may be: the environment override alone when it is set; otherwise beside the
/// executable, one folder up (test and example binaries live in target/release/deps and
/// target/release/examples), and in the Debian package's library folder (/usr/lib/AutoMix).
fn library_candidates() -> Vec<PathBuf> {
    if let Some(path) = std::env::var_os(PDFIUM_ENV).filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return vec![if path.is_dir() { path.join(library_file_name()) } else { path }];
    }
    let Some(exe_dir) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)) else {
        return Vec::new();
    };
    let mut folders = vec![exe_dir.clone()];
    if let Some(parent) = exe_dir.parent() {
        folders.push(parent.to_path_buf());
        folders.push(parent.join("lib").join("AutoMix"));
    }
    folders.into_iter().map(|folder| folder.join(library_file_name())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_names_the_places_searched_and_the_fix() {
        let nowhere = PathBuf::from("/nonexistent/automix/libpdfium.so");
        let Err(reason) = bind(std::slice::from_ref(&nowhere)) else { panic!("bound a library that is not there") };
        assert!(reason.contains("/nonexistent/automix/libpdfium.so"), "{reason}");
        assert!(reason.contains("make build") && reason.contains(PDFIUM_ENV), "{reason}");
    }
}
