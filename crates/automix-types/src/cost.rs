//! Money in the budget's currency and model prices.

use std::fmt;

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
