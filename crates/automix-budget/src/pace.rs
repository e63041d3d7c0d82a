//! The router's cost trade-off λ from the month's spending pace.

use serde::{Deserialize, Serialize};

use crate::{Cost, MonthStatus};

/// The user's quality↔cost preference, as the range λ may move in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CostPreference {
    /// λ when spending is exactly on pace.
    pub neutral_lambda: f64,
    /// The lowest λ (most quality-seeking) allowed when spending is slow.
    pub min_lambda: f64,
    /// The highest λ (most frugal) allowed when spending is fast.
    pub max_lambda: f64,
}

/// What the budget tells the router.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BudgetAdvice {
    /// Route with this λ; `pace` is spent share ÷ elapsed share of the month (1 = on pace).
    Route { lambda: f64, pace: f64 },
    /// Do not escalate; tell the user why.
    StayLocal { reason: String },
}

/// Early in the month a single answer looks like a huge overspend; judge pace over at least
/// this share of the month (about half a day).
const MIN_ELAPSED_FRACTION: f64 = 1.0 / 60.0;

/// λ scales with the pace (spent share ÷ elapsed share) and is clamped to the preference;
/// with less left than `smallest_escalation` the advice is to stay local.
pub fn advise(status: &MonthStatus, preference: &CostPreference, smallest_escalation: Cost) -> BudgetAdvice {
    if status.limit <= Cost::ZERO {
        return BudgetAdvice::StayLocal { reason: "no remote budget is set, so answers stay local".into() };
    }
    if status.remaining <= Cost::ZERO || status.remaining < smallest_escalation {
        return BudgetAdvice::StayLocal {
            reason: format!("this month's remote budget ({} {}) is spent, so this answer stays local", status.limit, status.currency),
        };
    }
    let spent_share = (status.settled.nanos + status.reserved.nanos) as f64 / status.limit.nanos as f64;
    let pace = spent_share / status.elapsed_fraction.max(MIN_ELAPSED_FRACTION);
    let lambda = (preference.neutral_lambda * pace).clamp(preference.min_lambda, preference.max_lambda);
    BudgetAdvice::Route { lambda, pace }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(spent_units: f64, elapsed_fraction: f64) -> MonthStatus {
        let limit = Cost::from_units(10.0);
        let settled = Cost::from_units(spent_units);
        MonthStatus {
            month: "2025-06".into(),
            currency: "USD".into(),
            limit,
            settled,
            reserved: Cost::ZERO,
            remaining: Cost::from_nanos((limit.nanos - settled.nanos).max(0)),
            elapsed_fraction,
        }
    }

    const PREFERENCE: CostPreference = CostPreference { neutral_lambda: 1.0, min_lambda: 0.25, max_lambda: 4.0 };

    fn lambda(advice: BudgetAdvice) -> f64 {
        match advice {
            BudgetAdvice::Route { lambda, .. } => lambda,
            BudgetAdvice::StayLocal { reason } => panic!("unexpected stay-local: {reason}"),
        }
    }

    #[test]
    fn fast_spending_raises_lambda_and_slow_lowers_it() {
        let on_pace = lambda(advise(&status(5.0, 0.5), &PREFERENCE, Cost::ZERO));
        let fast = lambda(advise(&status(8.0, 0.5), &PREFERENCE, Cost::ZERO));
        let slow = lambda(advise(&status(2.0, 0.5), &PREFERENCE, Cost::ZERO));
        assert!((on_pace - 1.0).abs() < 1e-9);
        assert!(fast > on_pace && slow < on_pace, "fast {fast}, slow {slow}");
    }

    #[test]
    fn lambda_stays_within_the_preference() {
        assert_eq!(lambda(advise(&status(9.9, 0.05), &PREFERENCE, Cost::ZERO)), PREFERENCE.max_lambda);
        assert_eq!(lambda(advise(&status(0.0, 0.9), &PREFERENCE, Cost::ZERO)), PREFERENCE.min_lambda);
    }

    #[test]
    fn spent_budget_says_stay_local() {
        assert!(matches!(advise(&status(10.0, 0.5), &PREFERENCE, Cost::ZERO), BudgetAdvice::StayLocal { .. }));
        let nearly = advise(&status(9.99, 0.5), &PREFERENCE, Cost::from_units(0.02));
        assert!(matches!(nearly, BudgetAdvice::StayLocal { reason } if reason.contains("stays local")));
    }
}
