//! The monthly budget and the per-answer cap, kept in the ledger.

use automix::budget::{BudgetSettings, Cost};
use serde::Serialize;

use super::Shared;
use crate::error::{blocking, AppError};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Budget {
    pub monthly_limit: f64,
    pub per_answer_cap: Option<f64>,
    pub currency: String,
}

impl From<BudgetSettings> for Budget {
    fn from(settings: BudgetSettings) -> Self {
        Budget { monthly_limit: settings.monthly_limit.as_units(), per_answer_cap: settings.per_answer_cap.map(|cap| cap.as_units()), currency: settings.currency }
    }
}

/// The new budget settings, refusing amounts no one means (negative, not a number, absurdly large).
pub fn budget_settings(current: BudgetSettings, monthly_limit: f64, per_answer_cap: Option<f64>) -> Result<BudgetSettings, AppError> {
    const MAX_AMOUNT: f64 = 1_000_000.0;
    let amount = |value: f64, what: &str| {
        if value.is_finite() && (0.0..=MAX_AMOUNT).contains(&value) {
            Ok(Cost::from_units(value))
        } else {
            Err(AppError::new("budget_invalid", format!("the {what} must be a number from 0 to {MAX_AMOUNT}, not {value}")))
        }
    };
    Ok(BudgetSettings {
        monthly_limit: amount(monthly_limit, "monthly budget")?,
        per_answer_cap: per_answer_cap.map(|cap| amount(cap, "per-answer cap")).transpose()?,
        currency: current.currency,
    })
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

    #[test]
    fn budgets_keep_the_currency_and_refuse_nonsense() {
        let current = BudgetSettings::default();
        let set = budget_settings(current.clone(), 12.5, Some(0.05)).unwrap();
        assert_eq!((set.monthly_limit, set.per_answer_cap, set.currency.as_str()), (Cost::from_units(12.5), Some(Cost::from_units(0.05)), "USD"));
        assert_eq!(budget_settings(current.clone(), 0.0, None).unwrap().monthly_limit, Cost::ZERO, "a zero budget means never escalate");
        for bad in [-1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert_eq!(budget_settings(current.clone(), bad, None).unwrap_err().code, "budget_invalid");
            assert_eq!(budget_settings(current.clone(), 5.0, Some(bad)).unwrap_err().code, "budget_invalid");
        }
    }
}
