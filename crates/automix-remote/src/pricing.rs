//! Model prices ($ per million tokens) from `models/pricing.toml`, with user overrides.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A money amount in the budget's currency, kept in billionths so sums are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Billionths of the currency unit (1 USD = 1_000_000_000).
    pub nanos: i64,
}

const NANOS_PER_UNIT: f64 = 1e9;

impl Cost {
    /// Zero.
    pub const ZERO: Cost = Cost { nanos: 0 };

    /// From billionths of the currency unit.
    pub const fn from_nanos(nanos: i64) -> Self {
        Cost { nanos }
    }

    /// From whole currency units (e.g. dollars), rounded to the nearest billionth.
    pub fn from_units(units: f64) -> Self {
        Cost { nanos: (units * NANOS_PER_UNIT).round() as i64 }
    }

    /// In whole currency units (e.g. dollars).
    pub fn as_units(self) -> f64 {
        self.nanos as f64 / NANOS_PER_UNIT
    }

    /// Adds, saturating instead of overflowing.
    pub fn saturating_add(self, other: Cost) -> Cost {
        Cost { nanos: self.nanos.saturating_add(other.nanos) }
    }
}

impl fmt::Display for Cost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.6}", self.as_units())
    }
}

/// Price of one model in currency units per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    /// Price per million prompt (input) tokens.
    pub input_per_million: f64,
    /// Price per million completion (output) tokens.
    pub output_per_million: f64,
}

impl ModelPrice {
    /// A model that costs nothing (a local server).
    pub const FREE: ModelPrice = ModelPrice { input_per_million: 0.0, output_per_million: 0.0 };

    /// Cost of a call, rounded up to the next billionth so estimates never undercount.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> Cost {
        let nanos = (prompt_tokens as f64 * self.input_per_million + completion_tokens as f64 * self.output_per_million) * (NANOS_PER_UNIT / 1e6);
        Cost::from_nanos(nanos.ceil() as i64)
    }
}

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
