//! The ledger's schema: its steps (`migrations/ledger/*.sql`), applied by the runner the history
//! and the library share, and how a ledger from before `schema_versions` is recognised.

use automix_sqlite::migrate::{self, table_exists, Migration, MigrationError, Schema};
use rusqlite::Connection;

/// The ledger's tables, versioned as `ledger` in `schema_versions`, apart from the history
/// whose file they share.
pub(crate) const LEDGER: Schema = Schema {
    name: "ledger",
    migrations: &[
        Migration::sql("0001_settings_and_reservations.sql", include_str!("../migrations/ledger/0001_settings_and_reservations.sql")),
        Migration::sql("0002_month_totals.sql", include_str!("../migrations/ledger/0002_month_totals.sql")),
    ],
    adopt: adopt_ledger,
};

/// Brings the ledger's tables in `connection`'s file up to date.
pub(crate) fn migrate(connection: &mut Connection) -> Result<(), MigrationError> {
    migrate::apply(connection, &LEDGER).map(|_| ())
}

/// Before `schema_versions` the ledger was not versioned: every open ran `CREATE TABLE IF NOT
/// EXISTS` for its tables. Ledger 2 added `budget_months`; without it the tables are ledger 1's.
fn adopt_ledger(connection: &Connection) -> rusqlite::Result<i64> {
    if table_exists(connection, "budget_months")? {
        Ok(2)
    } else if table_exists(connection, "budget_reservations")? || table_exists(connection, "budget_settings")? {
        Ok(1)
    } else {
        Ok(0)
    }
}
