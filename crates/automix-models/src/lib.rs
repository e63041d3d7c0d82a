//! The model catalog and the model manager: where models come from, where they live, whether they
//! are intact.

pub mod catalog;
pub mod error;
pub mod pull;
pub mod pypi_parts;
pub mod store;

pub use catalog::{Catalog, CatalogEntry, ModelKind, PypiParts};
pub use error::{ModelsError, Result};
pub use store::{automix_home, ModelStore, PullEvent, Source};
