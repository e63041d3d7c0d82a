//! Model prices ($ per million tokens) from `models/pricing.toml`, with user overrides.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use automix_types::ModelPrice;
use serde::Deserialize;

/// Errors reading or using a pricing table.
#[derive(Debug, thiserror::Error)]
pub enum PricingError {
    /// The pricing file could not be read.
    #[error("cannot read pricing file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// The pricing file is not valid TOML of the expected shape.
    #[error("pricing file {path} is malformed ({source}); expected `[models.\"<id>\"]` tables with `input_per_million` and `output_per_million`")]
    Parse { path: PathBuf, source: toml::de::Error },
    /// A price is negative or not a number.
    #[error("pricing file {path}: model `{model}` has a negative or non-numeric price; fix the entry")]
    InvalidPrice { path: PathBuf, model: String },
    /// No price is known for the model.
    #[error("no price known for model `{model}`; add it to your pricing override file or set a price in the remote settings")]
    UnknownModel { model: String },
}

#[derive(Debug, Deserialize)]
struct PricingFile {
    #[serde(default)]
    models: BTreeMap<String, ModelPrice>,
}

/// Prices per model id; later layers (user overrides) replace earlier ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceTable {
    prices: BTreeMap<String, ModelPrice>,
}

/// The bundled `models/pricing.toml`, compiled in so the app works without the source tree.
pub const BUNDLED_PRICING: &str = include_str!("../../../models/pricing.toml");

impl PriceTable {
    /// The bundled price list.
    pub fn bundled() -> Self {
        // The bundled file is checked by a unit test, so a parse failure here is a build defect.
        Self::parse(BUNDLED_PRICING, Path::new("models/pricing.toml")).expect("bundled models/pricing.toml is valid")
    }

    /// Parses a pricing file's text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PricingError> {
        let file: PricingFile = toml::from_str(text).map_err(|source| PricingError::Parse { path: path.into(), source })?;
        for (model, price) in &file.models {
            let valid = |value: f64| value.is_finite() && value >= 0.0;
            if !valid(price.input_per_million) || !valid(price.output_per_million) {
                return Err(PricingError::InvalidPrice { path: path.into(), model: model.clone() });
            }
        }
        Ok(PriceTable { prices: file.models })
    }

    /// Reads a pricing file from disk.
    pub fn load(path: &Path) -> Result<Self, PricingError> {
        let text = std::fs::read_to_string(path).map_err(|source| PricingError::Read { path: path.into(), source })?;
        Self::parse(&text, path)
    }

    /// The bundled list with the user's override file applied on top, if that file exists.
    pub fn bundled_with_override(override_path: &Path) -> Result<Self, PricingError> {
        let mut table = Self::bundled();
        if override_path.exists() {
            table.apply_override(Self::load(override_path)?);
        }
        Ok(table)
    }

    /// Replaces or adds every price in `overrides`.
    pub fn apply_override(&mut self, overrides: PriceTable) {
        self.prices.extend(overrides.prices);
    }

    /// The price of `model`, if listed.
    pub fn get(&self, model: &str) -> Option<ModelPrice> {
        self.prices.get(model).copied()
    }

    /// The listed model ids.
    pub fn models(&self) -> impl Iterator<Item = &str> {
        self.prices.keys().map(String::as_str)
    }
}
