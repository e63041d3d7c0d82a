//! The cost budget: a monthly limit with an optional per-answer cap, enforced by a SQLite
//! reservation ledger, and the router trade-off λ that follows from the month's spending pace.
//!
//! Before a remote call, [`Ledger::reserve`] books the worst-case cost; afterwards
//! [`Reservation::settle`] books what was actually charged, or [`Reservation::release`] frees
//! it. Reservations are checked and inserted in one `BEGIN IMMEDIATE` transaction, so the limit
//! holds across threads and processes sharing the file. Reservations left by a process that
//! died are released the next time a ledger is opened. Months are UTC calendar months.

mod pace;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use automix_types::Cost;
use automix_types::{EscalationPayload, ModelPrice, Usage};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::{Deserialize, Serialize};

pub use pace::{advise, BudgetAdvice, CostPreference};

/// Errors from the budget ledger. `WouldExceed` and `OverAnswerCap` are expected outcomes:
/// the question stays local.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// The reservation would take the month over the budget.
    #[error("the monthly budget does not cover this answer: it needs up to {requested} {currency} but only {remaining} {currency} is left this month")]
    WouldExceed { requested: Cost, remaining: Cost, currency: String },
    /// The worst case exceeds the per-answer cap.
    #[error("this answer could cost up to {requested} {currency}, over the per-answer cap of {cap} {currency}; raise the cap or lower max tokens")]
    OverAnswerCap { requested: Cost, cap: Cost, currency: String },
    /// Settings rejected.
    #[error("invalid budget settings: {0}")]
    InvalidSettings(String),
    /// The ledger file could not be opened.
    #[error("cannot open the budget ledger {path}: {source}; check the folder exists and is writable")]
    Open { path: PathBuf, source: rusqlite::Error },
    /// A query failed.
    #[error("budget ledger query failed: {0}")]
    Sql(#[from] rusqlite::Error),
    /// The ledger's tables could not be brought up to date (the message names the file and the step).
    #[error(transparent)]
    Migration(#[from] automix_sqlite::migrate::MigrationError),
}

/// The user's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetSettings {
    /// Spending limit per calendar month.
    pub monthly_limit: Cost,
    /// ISO 4217 currency code the limit and prices are in.
    pub currency: String,
    /// Largest worst-case cost a single answer may reserve.
    pub per_answer_cap: Option<Cost>,
}

impl Default for BudgetSettings {
    /// Five US dollars a month, no per-answer cap.
    fn default() -> Self {
        BudgetSettings { monthly_limit: Cost::from_units(5.0), currency: "USD".into(), per_answer_cap: None }
    }
}

/// The largest amount a budget or a cap may be set to: anything above is a typo, not a budget.
pub const MAX_BUDGET_AMOUNT: f64 = 1_000_000.0;

/// What a budget change does to the per-answer cap.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CapChange {
    Keep,
    /// No cap: any answer the month's budget covers may be escalated.
    Remove,
    /// At most this much per answer; 0 allows nothing, like a monthly budget of 0.
    Set(f64),
}

impl BudgetSettings {
    /// These settings with a user's change applied, checked the same way for every front end:
    /// amounts are numbers from 0 to [`MAX_BUDGET_AMOUNT`] (not NaN, not infinite, not negative),
    /// a currency is a 3-letter ISO 4217 code (stored upper-case), and 0 means "nothing allowed"
    /// for the cap as for the monthly budget (removing the cap is its own choice).
    pub fn changed(&self, monthly_limit: Option<f64>, currency: Option<&str>, cap: CapChange) -> Result<BudgetSettings, BudgetError> {
        let amount = |value: f64, what: &str| {
            if value.is_finite() && (0.0..=MAX_BUDGET_AMOUNT).contains(&value) {
                Ok(Cost::from_units(value))
            } else {
                Err(BudgetError::InvalidSettings(format!("the {what} must be a number from 0 to {MAX_BUDGET_AMOUNT}, not {value}")))
            }
        };
        let settings = BudgetSettings {
            monthly_limit: monthly_limit.map(|value| amount(value, "monthly budget")).transpose()?.unwrap_or(self.monthly_limit),
            currency: currency.map(str::to_string).unwrap_or_else(|| self.currency.clone()),
            per_answer_cap: match cap {
                CapChange::Keep => self.per_answer_cap,
                CapChange::Remove => None,
                CapChange::Set(value) => Some(amount(value, "per-answer cap")?),
            },
        };
        settings.validated()
    }

    /// The settings as stored: the currency checked and upper-cased, the amounts not negative.
    fn validated(self) -> Result<BudgetSettings, BudgetError> {
        let code = self.currency.trim();
        if code.len() != 3 || !code.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(BudgetError::InvalidSettings(format!("currency `{code}` is not a 3-letter ISO 4217 code like USD or EUR")));
        }
        if self.monthly_limit < Cost::ZERO || self.per_answer_cap.is_some_and(|cap| cap < Cost::ZERO) {
            return Err(BudgetError::InvalidSettings("the monthly limit and the per-answer cap cannot be negative".into()));
        }
        Ok(BudgetSettings { currency: code.to_ascii_uppercase(), ..self })
    }
}

/// Where this month stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthStatus {
    /// `YYYY-MM` (UTC).
    pub month: String,
    /// Currency code.
    pub currency: String,
    /// The monthly limit.
    pub limit: Cost,
    /// Charged by settled calls.
    pub settled: Cost,
    /// Held by calls in flight.
    pub reserved: Cost,
    /// `limit - settled - reserved` (never below zero).
    pub remaining: Cost,
    /// How much of the month has passed, 0..1.
    pub elapsed_fraction: f64,
}

/// A reservation left by a process that did not live to settle it is released after this long
/// even where process liveness cannot be checked; a remote call with all its retries is far shorter.
const STALE_RESERVATION_AGE: Duration = Duration::from_secs(60 * 60);

/// The budget ledger. Cheap to clone; clones share one connection.
#[derive(Debug, Clone)]
pub struct Ledger {
    connection: Arc<Mutex<Connection>>,
    released_on_open: usize,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
}

impl Ledger {
    /// Opens (creating as needed) the ledger at `path` and releases reservations whose owner
    /// process has died. The file may be shared with the history database.
    pub fn open(path: &Path) -> Result<Self, BudgetError> {
        let mut connection = automix_sqlite::open_creating_folder(path).map_err(|source| BudgetError::Open { path: path.into(), source })?;
        // Many processes and threads may queue on the write lock at once; waiting is right.
        connection.busy_timeout(Duration::from_secs(30))?;
        automix_sqlite::enable_wal(&connection)?;
        // NORMAL in WAL mode survives process crashes (the kill -9 case); only a power cut can
        // lose the last commits.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        // Ledger writes are tiny; checkpointing inside a reservation's commit would put an
        // fsync on the question's path, so checkpoint once here and leave the rest to the
        // history's background checkpointer (or the next open).
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        connection.execute_batch("PRAGMA wal_checkpoint(PASSIVE)")?;
        schema::migrate(&mut connection)?;
        let mut ledger = Ledger { connection: Arc::new(Mutex::new(connection)), released_on_open: 0 };
        ledger.released_on_open = ledger.release_stale(now_ms())?;
        Ok(ledger)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic mid-transaction drops (and so rolls back) the transaction: the connection is fine.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many stale reservations `open` released.
    pub fn released_on_open(&self) -> usize {
        self.released_on_open
    }

    /// The budget settings (defaults until set).
    pub fn settings(&self) -> Result<BudgetSettings, BudgetError> {
        read_settings(&self.lock())
    }

    /// Replaces the budget settings.
    pub fn set_settings(&self, settings: &BudgetSettings) -> Result<(), BudgetError> {
        let settings = settings.clone().validated()?;
        self.lock().execute(
            "INSERT INTO budget_settings (id, monthly_limit_nanos, currency, per_answer_cap_nanos) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET monthly_limit_nanos = ?1, currency = ?2, per_answer_cap_nanos = ?3",
            params![settings.monthly_limit.nanos, settings.currency, settings.per_answer_cap.map(|cap| cap.nanos)],
        )?;
        Ok(())
    }

    /// Books `worst_case` against this month before a remote call; `label` says what for.
    pub fn reserve(&self, worst_case: Cost, label: &str) -> Result<Reservation, BudgetError> {
        let now = now_ms();
        let mut connection = self.lock();
        // IMMEDIATE takes the write lock before reading, so no other connection can reserve
        // between our check and our insert.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let settings = read_settings(&transaction)?;
        if let Some(cap) = settings.per_answer_cap.filter(|cap| worst_case > *cap) {
            return Err(BudgetError::OverAnswerCap { requested: worst_case, cap, currency: settings.currency });
        }
        let month = month_of(&transaction, now)?;
        let (reserved, settled) = month_totals(&transaction, &month)?;
        let remaining = Cost::from_nanos((settings.monthly_limit.nanos - reserved - settled).max(0));
        if worst_case.nanos < 0 || worst_case > remaining {
            return Err(BudgetError::WouldExceed { requested: worst_case, remaining, currency: settings.currency });
        }
        transaction.execute(
            "INSERT INTO budget_reservations (month, created_at_ms, owner_pid, label, state, reserved_nanos)
             VALUES (?1, ?2, ?3, ?4, 'reserved', ?5)",
            params![month, now, std::process::id(), label, worst_case.nanos],
        )?;
        let id = transaction.last_insert_rowid();
        adjust_month(&transaction, &month, worst_case.nanos, 0)?;
        transaction.commit()?;
        drop(connection);
        Ok(Reservation { ledger: self.clone(), id, amount: worst_case, open: true })
    }

    /// This month's standing.
    pub fn month_status(&self) -> Result<MonthStatus, BudgetError> {
        self.month_status_at(now_ms())
    }

    /// The standing of the month containing `at_ms`.
    pub fn month_status_at(&self, at_ms: i64) -> Result<MonthStatus, BudgetError> {
        let connection = self.lock();
        let settings = read_settings(&connection)?;
        let month = month_of(&connection, at_ms)?;
        let (reserved, settled) = month_totals(&connection, &month)?;
        let (start_s, end_s): (i64, i64) = connection.query_row(
            "SELECT CAST(strftime('%s', ?1 / 1000, 'unixepoch', 'start of month') AS INTEGER),
                    CAST(strftime('%s', ?1 / 1000, 'unixepoch', 'start of month', '+1 month') AS INTEGER)",
            [at_ms],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let elapsed_fraction = ((at_ms as f64 / 1000.0 - start_s as f64) / (end_s - start_s) as f64).clamp(0.0, 1.0);
        Ok(MonthStatus {
            month,
            currency: settings.currency,
            limit: settings.monthly_limit,
            settled: Cost::from_nanos(settled),
            reserved: Cost::from_nanos(reserved),
            remaining: Cost::from_nanos((settings.monthly_limit.nanos - settled - reserved).max(0)),
            elapsed_fraction,
        })
    }

    /// Releases reservations whose owner process is gone, or that are older than any call could be.
    fn release_stale(&self, now: i64) -> Result<usize, BudgetError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open: Vec<(i64, i64, i64)> = {
            let mut statement = transaction.prepare("SELECT id, owner_pid, created_at_ms FROM budget_reservations WHERE state = 'reserved'")?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        let stale_before = now - STALE_RESERVATION_AGE.as_millis() as i64;
        let mut released = 0;
        for (id, owner, created_at_ms) in open {
            let owner_died = owner != i64::from(std::process::id()) && process_alive(owner) == Some(false);
            let reason = if owner_died {
                "owner process ended"
            } else if created_at_ms < stale_before {
                "stale"
            } else {
                continue;
            };
            close_in(&transaction, id, Closing::Release, reason, now)?;
            released += 1;
        }
        transaction.commit()?;
        Ok(released)
    }

    fn close(&self, id: i64, closing: Closing, reason: &str) -> Result<(), BudgetError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        close_in(&transaction, id, closing, reason, now_ms())?;
        transaction.commit()?;
        Ok(())
    }
}

/// How a reservation ends.
#[derive(Debug, Clone, Copy)]
enum Closing {
    Settle(Cost),
    Release,
}

/// Closes reservation `id` and moves its money in the month totals.
fn close_in(transaction: &rusqlite::Transaction<'_>, id: i64, closing: Closing, reason: &str, now: i64) -> Result<(), BudgetError> {
    let Some((state, month, reserved)): Option<(String, String, i64)> = transaction
        .query_row("SELECT state, month, reserved_nanos FROM budget_reservations WHERE id = ?1", [id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .optional()?
    else {
        return Ok(());
    };
    let still_reserved = state == "reserved";
    let (new_state, charged, reserved_delta, settled_delta) = match closing {
        Closing::Settle(actual) if still_reserved => ("settled", Some(actual.nanos), -reserved, actual.nanos),
        // Released as stale by another process, yet the call finished: the provider's charge
        // is real and must count.
        Closing::Settle(actual) if state == "released" => ("settled", Some(actual.nanos), 0, actual.nanos),
        Closing::Release if still_reserved => ("released", None, -reserved, 0),
        _ => return Ok(()),
    };
    transaction.execute(
        "UPDATE budget_reservations SET state = ?1, charged_nanos = ?2, closed_at_ms = ?3, closed_reason = ?4 WHERE id = ?5",
        params![new_state, charged, now, reason, id],
    )?;
    adjust_month(transaction, &month, reserved_delta, settled_delta)
}

/// Worst-case money booked for one remote call; settle or release it. Dropping it unsettled
/// releases it.
#[derive(Debug)]
#[must_use = "settle or release the reservation"]
pub struct Reservation {
    ledger: Ledger,
    id: i64,
    amount: Cost,
    open: bool,
}

impl Reservation {
    /// The ledger row id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The reserved worst case.
    pub fn amount(&self) -> Cost {
        self.amount
    }

    /// Books the actual charge (the provider-reported or estimated usage priced).
    pub fn settle(mut self, actual: Cost) -> Result<(), BudgetError> {
        self.open = false;
        self.ledger.close(self.id, Closing::Settle(actual.max(Cost::ZERO)), "settled")
    }

    /// Frees the reservation: the call failed and the provider reported no usage.
    pub fn release(mut self) -> Result<(), BudgetError> {
        self.open = false;
        self.ledger.close(self.id, Closing::Release, "released")
    }
}

/// The most an escalation can cost: an upper bound on its prompt tokens at the input price plus
/// `max_tokens` at the output price.
pub fn worst_case_cost(payload: &EscalationPayload, max_tokens: u32, price: &ModelPrice) -> Cost {
    price.cost(payload.prompt_tokens_upper_bound(), u64::from(max_tokens))
}

impl Reservation {
    /// Closes the reservation for a finished remote call and returns what was charged: an
    /// answered call (`Some` usage: reported, or estimated when the provider sent none) is
    /// charged that usage at `price`; a failed call (`None`) is released, since the provider
    /// reported no usage for it.
    pub fn settle_outcome(self, answered: Option<Usage>, price: &ModelPrice) -> Result<Cost, BudgetError> {
        match answered {
            Some(usage) => {
                let charged = price.cost(usage.prompt_tokens, usage.completion_tokens);
                self.settle(charged)?;
                Ok(charged)
            }
            None => {
                self.release()?;
                Ok(Cost::ZERO)
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.open {
            // Best effort: if this fails the row stays reserved and the next open releases it.
            if let Err(error) = self.ledger.close(self.id, Closing::Release, "dropped unsettled") {
                tracing::warn!(
                    reservation = self.id,
                    amount = self.amount.as_units(),
                    "releasing a reservation dropped unsettled failed; it stays booked until the ledger is next opened: {error}"
                );
            }
        }
    }
}

fn read_settings(connection: &Connection) -> Result<BudgetSettings, BudgetError> {
    let stored = connection
        .query_row("SELECT monthly_limit_nanos, currency, per_answer_cap_nanos FROM budget_settings WHERE id = 1", [], |row| {
            Ok(BudgetSettings {
                monthly_limit: Cost::from_nanos(row.get(0)?),
                currency: row.get(1)?,
                per_answer_cap: row.get::<_, Option<i64>>(2)?.map(Cost::from_nanos),
            })
        })
        .optional()?;
    Ok(stored.unwrap_or_default())
}

fn month_of(connection: &Connection, at_ms: i64) -> Result<String, BudgetError> {
    Ok(connection.query_row("SELECT strftime('%Y-%m', ?1 / 1000, 'unixepoch')", [at_ms], |row| row.get(0))?)
}

/// (reserved, settled) nanos of `month`, kept as running totals so checks stay O(1).
fn month_totals(connection: &Connection, month: &str) -> Result<(i64, i64), BudgetError> {
    let totals = connection
        .query_row("SELECT reserved_nanos, settled_nanos FROM budget_months WHERE month = ?1", [month], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    Ok(totals.unwrap_or((0, 0)))
}

fn adjust_month(connection: &Connection, month: &str, reserved_delta: i64, settled_delta: i64) -> Result<(), BudgetError> {
    connection.execute(
        "INSERT INTO budget_months (month, reserved_nanos, settled_nanos) VALUES (?1, ?2, ?3)
         ON CONFLICT(month) DO UPDATE SET reserved_nanos = reserved_nanos + ?2, settled_nanos = settled_nanos + ?3",
        params![month, reserved_delta, settled_delta],
    )?;
    Ok(())
}

/// Whether a process is running; `None` where this platform cannot tell.
#[cfg(target_os = "linux")]
fn process_alive(pid: i64) -> Option<bool> {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // A zombie has exited; only its exit status is waiting to be collected.
        Ok(stat) => Some(stat.rsplit_once(')').is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))),
        Err(_) => Some(false),
    }
}

#[cfg(not(target_os = "linux"))]
fn process_alive(_pid: i64) -> Option<bool> {
    None
}
