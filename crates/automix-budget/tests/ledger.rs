//! The ledger under concurrency, across a crash, and its caps.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use automix_budget::{BudgetError, BudgetSettings, CapChange, Cost, Ledger};

fn ledger_with_limit(path: &Path, limit: Cost, per_answer_cap: Option<Cost>) -> Ledger {
    let ledger = Ledger::open(path).unwrap();
    ledger.set_settings(&BudgetSettings { monthly_limit: limit, currency: "USD".into(), per_answer_cap }).unwrap();
    ledger
}

/// 200 threads, each with its own connection, reserve `worst_case` at once; winners then
/// settle `actual`. Returns how many got through.
fn concurrent_wave(path: &Path, worst_case: Cost, actual: Cost) -> usize {
    const THREADS: usize = 200;
    let all_reserved = Arc::new(Barrier::new(THREADS));
    let went_out = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|index| {
            let (path, all_reserved, went_out) = (path.to_path_buf(), all_reserved.clone(), went_out.clone());
            std::thread::spawn(move || {
                let ledger = Ledger::open(&path).unwrap();
                let outcome = ledger.reserve(worst_case, &format!("question {index}"));
                // Hold every reservation until all threads have tried, so they are truly concurrent.
                all_reserved.wait();
                match outcome {
                    Ok(reservation) => {
                        went_out.fetch_add(1, Ordering::SeqCst);
                        reservation.settle(actual).unwrap();
                    }
                    Err(BudgetError::WouldExceed { .. }) => {}
                    Err(other) => panic!("unexpected ledger error: {other}"),
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    went_out.load(Ordering::SeqCst)
}

#[test]
fn two_hundred_concurrent_escalations_never_pass_a_cap_that_fits_fifty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("automix.sqlite");
    let worst_case = Cost::from_nanos(1_234_567);
    let limit = Cost::from_nanos(worst_case.nanos * 50 + worst_case.nanos / 2);
    let ledger = ledger_with_limit(&path, limit, None);

    // Calls that cost their full worst case: exactly 50 fit.
    assert_eq!(concurrent_wave(&path, worst_case, worst_case), 50);
    let status = ledger.month_status().unwrap();
    assert_eq!(status.settled.nanos, worst_case.nanos * 50);
    assert!(status.settled <= limit);
    assert_eq!(status.reserved, Cost::ZERO);
}

#[test]
fn settling_below_the_worst_case_frees_exactly_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("automix.sqlite");
    let worst_case = Cost::from_nanos(1_000_000);
    let limit = Cost::from_nanos(worst_case.nanos * 50);
    let ledger = ledger_with_limit(&path, limit, None);

    let actual = Cost::from_nanos(600_000);
    assert_eq!(concurrent_wave(&path, worst_case, actual), 50);
    // 50 × 0.6 spent leaves room for exactly 20 more worst cases.
    assert_eq!(concurrent_wave(&path, worst_case, worst_case), 20);
    let status = ledger.month_status().unwrap();
    assert_eq!(status.settled.nanos, 50 * 600_000 + 20 * 1_000_000);
    assert!(status.settled <= limit);
    assert_eq!(status.remaining, Cost::ZERO);
}

#[test]
fn per_answer_cap_and_release_and_drop() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with_limit(&dir.path().join("l.sqlite"), Cost::from_units(1.0), Some(Cost::from_units(0.1)));
    let over = ledger.reserve(Cost::from_units(0.2), "too big").unwrap_err();
    assert!(matches!(over, BudgetError::OverAnswerCap { .. }), "{over}");

    let released = ledger.reserve(Cost::from_units(0.1), "fails").unwrap();
    assert_eq!(ledger.month_status().unwrap().reserved, Cost::from_units(0.1));
    released.release().unwrap();
    let dropped = ledger.reserve(Cost::from_units(0.1), "panics").unwrap();
    drop(dropped);
    let status = ledger.month_status().unwrap();
    assert_eq!((status.reserved, status.settled, status.remaining), (Cost::ZERO, Cost::ZERO, Cost::from_units(1.0)));
}

#[test]
fn settings_are_validated_and_persist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.settings().unwrap(), BudgetSettings::default());
    let euros = BudgetSettings { monthly_limit: Cost::from_units(12.5), currency: "eur".into(), per_answer_cap: None };
    ledger.set_settings(&euros).unwrap();
    assert_eq!(Ledger::open(&path).unwrap().settings().unwrap().currency, "EUR");
    let bad = BudgetSettings { currency: "euro".into(), ..euros };
    assert!(matches!(ledger.set_settings(&bad), Err(BudgetError::InvalidSettings(_))));
}

/// The one rule both front ends apply: amounts from 0 to a million, never NaN or infinite; a cap
/// of 0 allows nothing (as a monthly budget of 0 does), and removing the cap is its own choice.
#[test]
fn budget_changes_follow_one_rule() {
    let current = BudgetSettings { per_answer_cap: Some(Cost::from_units(0.1)), ..BudgetSettings::default() };
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.01, 2e6] {
        assert!(matches!(current.changed(Some(bad), None, CapChange::Keep), Err(BudgetError::InvalidSettings(_))), "monthly {bad}");
        assert!(matches!(current.changed(None, None, CapChange::Set(bad)), Err(BudgetError::InvalidSettings(_))), "cap {bad}");
    }
    let kept = current.changed(Some(12.5), Some("eur"), CapChange::Keep).unwrap();
    assert_eq!((kept.monthly_limit, kept.currency.as_str(), kept.per_answer_cap), (Cost::from_units(12.5), "EUR", Some(Cost::from_units(0.1))));
    assert_eq!(current.changed(None, None, CapChange::Remove).unwrap().per_answer_cap, None);
    assert!(matches!(current.changed(None, Some("euro"), CapChange::Keep), Err(BudgetError::InvalidSettings(_))));

    // A cap of 0 is stored as a cap, and the ledger then lets no answer through.
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(&dir.path().join("l.sqlite")).unwrap();
    let nothing = current.changed(Some(5.0), None, CapChange::Set(0.0)).unwrap();
    assert_eq!(nothing.per_answer_cap, Some(Cost::ZERO));
    ledger.set_settings(&nothing).unwrap();
    assert!(matches!(ledger.reserve(Cost::from_units(0.000001), "one answer"), Err(BudgetError::OverAnswerCap { .. })));
}

#[test]
fn a_reservation_orphaned_by_kill_9_is_released_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("automix.sqlite");
    let limit = Cost::from_units(1.0);
    drop(ledger_with_limit(&path, limit, None));

    let mut child =
        Command::new(env!("CARGO_BIN_EXE_automix-budget-crash-probe")).arg(&path).arg(limit.nanos.to_string()).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("reserved "), "probe said: {line:?}");

    // While the probe lives, its reservation holds: nothing else fits.
    let while_alive = Ledger::open(&path).unwrap();
    assert_eq!(while_alive.released_on_open(), 0);
    assert_eq!(while_alive.month_status().unwrap().reserved, limit);
    assert!(matches!(while_alive.reserve(Cost::from_nanos(1), "blocked"), Err(BudgetError::WouldExceed { .. })));

    child.kill().unwrap(); // SIGKILL on Unix: no destructor runs.
    child.wait().unwrap();

    let after = Ledger::open(&path).unwrap();
    assert_eq!(after.released_on_open(), 1);
    let status = after.month_status().unwrap();
    assert_eq!((status.reserved, status.settled, status.remaining), (Cost::ZERO, Cost::ZERO, limit));
    after.reserve(limit, "the whole budget again").unwrap().settle(limit).unwrap();
    assert_eq!(after.month_status().unwrap().settled, limit);
}

/// The running month totals must equal what the reservation rows add up to.
fn assert_totals_match_rows(path: &Path, ledger: &Ledger) {
    let probe = rusqlite::Connection::open(path).unwrap();
    let (reserved, settled): (i64, i64) = probe
        .query_row(
            "SELECT COALESCE(SUM(CASE WHEN state = 'reserved' THEN reserved_nanos END), 0),
                    COALESCE(SUM(CASE WHEN state = 'settled' THEN charged_nanos END), 0) FROM budget_reservations",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let status = ledger.month_status().unwrap();
    assert_eq!((status.reserved.nanos, status.settled.nanos), (reserved, settled));
}

#[test]
fn running_totals_follow_every_kind_of_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.sqlite");
    let ledger = ledger_with_limit(&path, Cost::from_nanos(10_000), None);
    assert_eq!(concurrent_wave(&path, Cost::from_nanos(300), Cost::from_nanos(120)), 33);
    assert_totals_match_rows(&path, &ledger);
    let held = ledger.reserve(Cost::from_nanos(500), "held").unwrap();
    let released = ledger.reserve(Cost::from_nanos(400), "released").unwrap();
    released.release().unwrap();
    assert_totals_match_rows(&path, &ledger);
    held.settle(Cost::from_nanos(450)).unwrap();
    assert_totals_match_rows(&path, &ledger);
    assert_eq!(ledger.month_status().unwrap().settled.nanos, 33 * 120 + 450);
}
