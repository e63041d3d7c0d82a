//! The router's decision about one answer.

use serde::{Deserialize, Serialize};

/// What to do with the current model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Return the current model's answer.
    Keep,
    /// Ask model `j` (an index into the model list, larger than the current one).
    Route(usize),
}

impl Action {
    #[inline]
    pub(crate) fn from_code(code: u8) -> Self {
        if code == 0 {
            Action::Keep
        } else {
            Action::Route(usize::from(code))
        }
    }
}
