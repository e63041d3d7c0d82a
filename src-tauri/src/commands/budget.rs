//! The monthly budget and the per-answer cap, kept in the ledger.

use automix::budget::{BudgetSettings, CapChange};
use serde::Serialize;

use super::Shared;
use crate::error::{blocking, AppError};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Budget {
    pub monthly_limit: f64,
    pub per_answer_cap: Option<f64>,
    pub currency: String,
}

impl From<BudgetSettings> for Budget {
    fn from(settings: BudgetSettings) -> Self {
        Budget {
            monthly_limit: settings.monthly_limit.as_units(),
            per_answer_cap: settings.per_answer_cap.map(|cap| cap.as_units()),
            currency: settings.currency,
        }
    }
}

/// The new budget settings by the engine's one rule (`BudgetSettings::changed`): an empty cap
/// field removes the cap, and a cap of 0 allows nothing.
pub fn budget_settings(current: BudgetSettings, monthly_limit: f64, per_answer_cap: Option<f64>) -> Result<BudgetSettings, AppError> {
    let cap = per_answer_cap.map_or(CapChange::Remove, CapChange::Set);
    Ok(current.changed(Some(monthly_limit), None, cap)?)
}

#[tauri::command]
pub async fn budget_get(state: Shared<'_>) -> Result<Budget, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.ledger().settings()?.into())).await
}

#[tauri::command]
pub async fn budget_set(state: Shared<'_>, monthly_limit: f64, per_answer_cap: Option<f64>) -> Result<Budget, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let ledger = state.assistant.ledger();
        let settings = budget_settings(ledger.settings()?, monthly_limit, per_answer_cap)?;
        ledger.set_settings(&settings)?;
        Ok(settings.into())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use automix::budget::Cost;
    use automix::types::ErrorCode;

    #[test]
    fn budgets_keep_the_currency_and_refuse_nonsense() {
        let current = BudgetSettings::default();
        let set = budget_settings(current.clone(), 12.5, Some(0.05)).unwrap();
        assert_eq!((set.monthly_limit, set.per_answer_cap, set.currency.as_str()), (Cost::from_units(12.5), Some(Cost::from_units(0.05)), "USD"));
        assert_eq!(budget_settings(current.clone(), 0.0, None).unwrap().monthly_limit, Cost::ZERO, "a zero budget means never escalate");
        assert_eq!(budget_settings(current.clone(), 5.0, Some(0.0)).unwrap().per_answer_cap, Some(Cost::ZERO), "a zero cap allows nothing");
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert_eq!(budget_settings(current.clone(), bad, None).unwrap_err().code, ErrorCode::BudgetInvalid);
            assert_eq!(budget_settings(current.clone(), 5.0, Some(bad)).unwrap_err().code, ErrorCode::BudgetInvalid);
        }
    }
}
