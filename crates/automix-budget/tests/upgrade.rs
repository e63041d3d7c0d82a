//! A ledger written by every earlier (unversioned) schema, inside the history file it shares
//! (tests/fixtures/ledger/v*.sql, rebuilt from the schema code in git history), opens with
//! today's code: its months' spending is unchanged, it is versioned apart from the history, and
//! it takes new reservations.

use std::path::{Path, PathBuf};

use automix_budget::{BudgetError, BudgetSettings, Cost, Ledger};
use automix_history::History;
use automix_sqlite::migrate::{recorded_version, table_exists};
use rusqlite::Connection;

/// 2025-11-27T10:00:00Z, 2025-12-03T14:00:00Z, 2026-01-15T12:00:00Z.
const NOVEMBER_2025: i64 = 1_764_237_600_000;
const DECEMBER_2025: i64 = 1_764_770_400_000;
const JANUARY_2026: i64 = 1_768_478_400_000;

fn load(fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.sqlite");
    Connection::open(&path).unwrap().execute_batch(fixture).unwrap();
    (dir, path)
}

/// (ledger, history) versions recorded in `schema_versions`.
fn versions(path: &Path) -> (Option<i64>, Option<i64>) {
    let connection = Connection::open(path).unwrap();
    (recorded_version(&connection, "ledger").unwrap(), recorded_version(&connection, "history").unwrap())
}

/// (settled, reserved) nanos of the month containing `at_ms`.
fn spent(ledger: &Ledger, at_ms: i64) -> (i64, i64) {
    let status = ledger.month_status_at(at_ms).unwrap();
    (status.settled.nanos, status.reserved.nanos)
}

/// The upgraded ledger books, settles and refuses as today's code does.
fn still_reserves(ledger: &Ledger) {
    let before = ledger.month_status().unwrap();
    let reservation = ledger.reserve(Cost::from_nanos(5_000), "after the upgrade").unwrap();
    assert_eq!(ledger.month_status().unwrap().reserved.nanos, before.reserved.nanos + 5_000);
    reservation.settle(Cost::from_nanos(1_000)).unwrap();
    let after = ledger.month_status().unwrap();
    assert_eq!((after.settled.nanos, after.reserved.nanos), (before.settled.nanos + 1_000, before.reserved.nanos));
    let over = ledger.reserve(Cost::from_units(1_000.0), "too much").unwrap_err();
    assert!(matches!(over, BudgetError::OverAnswerCap { .. } | BudgetError::WouldExceed { .. }), "{over}");
}

#[test]
fn a_ledger_1_gets_month_totals_from_its_reservations() {
    let (_dir, path) = load(include_str!("fixtures/ledger/v1.sql"));
    assert_eq!(versions(&path), (None, None));
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(2), None), "the ledger is versioned on its own; the history is not touched");

    let settings = ledger.settings().unwrap();
    assert_eq!(
        settings,
        BudgetSettings { monthly_limit: Cost::from_nanos(5_000_000_000), currency: "USD".into(), per_answer_cap: Some(Cost::from_nanos(100_000_000)) }
    );
    // What ledger 1 summed from the reservations on every check, now in the running totals; the
    // December reservation of the dead process is released on open, as before.
    assert_eq!(ledger.released_on_open(), 1);
    assert_eq!(spent(&ledger, NOVEMBER_2025), (30_000, 0));
    assert_eq!(spent(&ledger, DECEMBER_2025), (45_000, 0));
    let status = ledger.month_status_at(DECEMBER_2025).unwrap();
    assert_eq!(status.remaining.nanos, 5_000_000_000 - 45_000);
    let connection = Connection::open(&path).unwrap();
    assert!(!table_exists(&connection, "budget_reservations_by_month").unwrap(), "ledger 2 has no month index");
    let rows: i64 = connection.query_row("SELECT count(*) FROM budget_reservations", [], |row| row.get(0)).unwrap();
    assert_eq!(rows, 5);
    still_reserves(&ledger);

    // The history in the same file upgrades on its own version, keeping its row.
    let history = History::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(2), Some(History::schema_version())));
    assert_eq!(history.question(1).unwrap().record.escalation.unwrap().cost.nanos, 30_000);
}

#[test]
fn a_ledger_2_is_adopted_with_its_totals_unchanged() {
    let (_dir, path) = load(include_str!("fixtures/ledger/v2.sql"));
    // This time the history opens first, as the app does.
    let history = History::open(&path).unwrap();
    assert_eq!(versions(&path), (None, Some(History::schema_version())));
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(versions(&path), (Some(2), Some(History::schema_version())));
    assert_eq!(ledger.released_on_open(), 0);
    assert_eq!(spent(&ledger, JANUARY_2026), (37_000, 0));
    let status = ledger.month_status_at(JANUARY_2026).unwrap();
    assert_eq!((status.currency.as_str(), status.limit.nanos, status.remaining.nanos), ("EUR", 2_000_000_000, 2_000_000_000 - 37_000));
    still_reserves(&ledger);
    assert_eq!(history.spend_per_month().unwrap().iter().map(|spend| (spend.period.as_str(), spend.cost.nanos)).collect::<Vec<_>>(), vec![("2026-01", 25_000)]);
    drop((ledger, history));

    // Reopening changes nothing.
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(spent(&ledger, JANUARY_2026), (37_000, 0));
}

#[test]
fn a_new_file_gets_both_schemas_whichever_opens_first_and_at_once() {
    let dir = tempfile::tempdir().unwrap();
    for (index, ledger_first) in [true, false].into_iter().enumerate() {
        let path = dir.path().join(format!("history-{index}.sqlite"));
        if ledger_first {
            drop(Ledger::open(&path).unwrap());
        }
        drop(History::open(&path).unwrap());
        drop(Ledger::open(&path).unwrap());
        assert_eq!(versions(&path), (Some(2), Some(History::schema_version())));
    }
    // The app opens the history and the ledger at the same time on a new file.
    let path = dir.path().join("together.sqlite");
    std::thread::scope(|scope| {
        for index in 0..4 {
            let path = &path;
            scope.spawn(move || {
                if index % 2 == 0 {
                    drop(Ledger::open(path).unwrap());
                } else {
                    drop(History::open(path).unwrap());
                }
            });
        }
    });
    assert_eq!(versions(&path), (Some(2), Some(History::schema_version())));
}

/// Ledger step 2 fails (here, an index already holds the name of its new table): the step is
/// rolled back with the adoption recorded in its transaction, the file is as it was, and the
/// error names the file and the step.
#[test]
fn a_failing_step_leaves_the_ledger_as_it_was_and_names_the_file_and_the_step() {
    let (_dir, path) = load(include_str!("fixtures/ledger/v1.sql"));
    let connection = Connection::open(&path).unwrap();
    connection.execute_batch("CREATE INDEX budget_months ON budget_reservations(label);").unwrap();

    let error = Ledger::open(&path).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, BudgetError::Migration(_)), "{error:?}");
    assert!(message.contains(&path.display().to_string()) && message.contains("0002_month_totals.sql"), "{message}");
    assert_eq!(versions(&path), (None, None), "the adoption was rolled back with the step");
    assert!(table_exists(&connection, "budget_reservations").unwrap());
    let month_index: i64 =
        connection.query_row("SELECT count(*) FROM sqlite_master WHERE name = 'budget_reservations_by_month'", [], |row| row.get(0)).unwrap();
    assert_eq!(month_index, 1, "the step's DROP INDEX was rolled back");
    let open: i64 = connection.query_row("SELECT count(*) FROM budget_reservations WHERE state = 'reserved'", [], |row| row.get(0)).unwrap();
    assert_eq!(open, 1, "nothing was released: the ledger never opened");

    connection.execute_batch("DROP INDEX budget_months;").unwrap();
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(spent(&ledger, DECEMBER_2025), (45_000, 0));
}
