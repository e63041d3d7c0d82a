//! What the router decided about a question: one vocabulary for the live event, the stored row,
//! the command line and the screen.

use serde::{Deserialize, Serialize};

/// What the router decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum RouteDecision {
    /// The local answer was kept: the router judged that escalating would not pay off.
    Local,
    /// The question went to the remote model.
    Escalate,
    /// The router would have escalated but the budget (monthly limit or per-answer cap) is spent.
    StayLocalBudget,
    /// Kept local without asking the router to weigh a remote call: none is configured, or the
    /// user chose never to escalate.
    StayLocal,
    /// The router would escalate; the payload waits for the user's Send or Keep local
    /// ("Ask me before sending"). The local answer is shown meanwhile.
    AwaitingApproval,
}

impl RouteDecision {
    /// Every decision, in a stable order.
    pub const ALL: [RouteDecision; 5] =
        [RouteDecision::Local, RouteDecision::Escalate, RouteDecision::StayLocalBudget, RouteDecision::StayLocal, RouteDecision::AwaitingApproval];

    /// The name stored in the history database and sent to the front ends (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            RouteDecision::Local => "local",
            RouteDecision::Escalate => "escalate",
            RouteDecision::StayLocalBudget => "stay_local_budget",
            RouteDecision::StayLocal => "stay_local",
            RouteDecision::AwaitingApproval => "awaiting_approval",
        }
    }

    /// The decision named `text` (as written by `as_str`).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|decision| decision.as_str() == text)
    }

    /// Whether the local answer is the one shown.
    pub fn kept_local(self) -> bool {
        self != RouteDecision::Escalate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_serde_names_and_round_trip() {
        for decision in RouteDecision::ALL {
            assert_eq!(serde_json::to_string(&decision).unwrap(), format!("\"{}\"", decision.as_str()));
            assert_eq!(serde_json::from_str::<RouteDecision>(&format!("\"{}\"", decision.as_str())).unwrap(), decision);
            assert_eq!(RouteDecision::parse(decision.as_str()), Some(decision));
        }
        assert_eq!(RouteDecision::parse("keep"), None);
    }
}
