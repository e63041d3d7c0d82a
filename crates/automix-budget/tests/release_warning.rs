//! A reservation dropped unsettled whose release fails says so in the log (as a warning) instead
//! of failing silently; one whose release works says nothing.

use std::sync::{Arc, Mutex};

use automix_budget::{BudgetSettings, Cost, Ledger};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The events logged on this thread, as "LEVEL message field=value …".
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Captured {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn open_ledger(dir: &tempfile::TempDir) -> (Ledger, std::path::PathBuf) {
    let path = dir.path().join("budget.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    ledger.set_settings(&BudgetSettings { monthly_limit: Cost::from_units(1.0), currency: "USD".into(), per_answer_cap: None }).unwrap();
    (ledger, path)
}

#[test]
fn a_dropped_reservation_whose_release_fails_is_logged_as_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, path) = open_ledger(&dir);
    let captured = Captured::default();

    tracing::subscriber::with_default(captured.clone(), || {
        // Released fine: nothing to warn about.
        drop(ledger.reserve(Cost::from_units(0.01), "fine").unwrap());
    });
    assert!(captured.lines().iter().all(|line| !line.starts_with(Level::WARN.as_str())), "{:?}", captured.lines());
    assert_eq!(ledger.month_status().unwrap().reserved, Cost::ZERO);

    let reservation = ledger.reserve(Cost::from_units(0.02), "doomed").unwrap();
    let id = reservation.id();
    // Another process breaks the ledger under the reservation: its release can only fail.
    rusqlite::Connection::open(&path).unwrap().execute_batch("DROP TABLE budget_reservations").unwrap();
    tracing::subscriber::with_default(captured.clone(), || drop(reservation));

    let lines = captured.lines();
    let warning = lines.iter().find(|line| line.starts_with("WARN")).unwrap_or_else(|| panic!("no warning in {lines:?}"));
    assert!(warning.contains("dropped unsettled failed"), "{warning}");
    assert!(warning.contains(&format!("reservation={id}")), "{warning}");
    assert!(warning.contains("no such table"), "the ledger's error is in the warning: {warning}");
}
