//! The one way AutoMix versions its SQLite schemas (the history, the budget ledger, the document
//! library): numbered `.sql` steps embedded with `include_str!`, applied in order by [`apply`],
//! each in a transaction of its own, with each schema's version kept under its own name in a
//! `schema_versions` table. Two schemas can share a file (the ledger lives in the history's file)
//! and still be versioned apart, which `PRAGMA user_version` alone could not do.
//!
//! A database written before a schema's version was kept here (versioned another way, or not at
//! all) is recognised by the schema's [`Schema::adopt`] and recorded at the version it already has,
//! in the same transaction as the first step that then runs.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// One step of a schema: its file's name (`0002_folders.sql`; the number is the version the step
/// brings the schema to, which is its position in [`Schema::migrations`]) and its SQL. The runner
/// opens and commits the step's transaction, so the SQL itself never says BEGIN or COMMIT. A
/// step, once released, is never edited: a change is a new step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub name: &'static str,
    pub sql: &'static str,
    /// Work SQL cannot do (Rust over the rows the step changed), run after `sql` in the same
    /// transaction.
    pub then: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

impl Migration {
    /// A step that is SQL alone.
    pub const fn sql(name: &'static str, sql: &'static str) -> Migration {
        Migration { name, sql, then: None }
    }

    /// This step, with `then` run after its SQL in the same transaction.
    pub const fn then(self, then: fn(&Connection) -> rusqlite::Result<()>) -> Migration {
        Migration { then: Some(then), ..self }
    }
}

/// A versioned schema.
#[derive(Debug, Clone, Copy)]
pub struct Schema {
    /// Its row in `schema_versions` (`history`, `ledger`, `library`).
    pub name: &'static str,
    /// Its steps; step `i` (from 0) brings it to version `i + 1`.
    pub migrations: &'static [Migration],
    /// The version of a database `schema_versions` knows nothing about: 0 where none of the
    /// schema's tables exist, else the version an earlier AutoMix left it at.
    pub adopt: fn(&Connection) -> rusqlite::Result<i64>,
}

impl Schema {
    /// The version its last step brings it to.
    pub fn latest(&self) -> i64 {
        self.migrations.len() as i64
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The version found (or adopted).
    pub from: i64,
    /// The version now recorded: the schema's latest.
    pub to: i64,
    /// True when the version was read from an earlier AutoMix's database and recorded now.
    pub adopted: bool,
}

/// Why a schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A step failed; its transaction was rolled back.
    #[error(
        "cannot upgrade the {schema} schema of {path}: step {version} ({step}) failed: {source}; the step was rolled back, so the database is as it was before it (move the file aside to start afresh if it is damaged)"
    )]
    Step { path: PathBuf, schema: &'static str, version: i64, step: &'static str, source: Box<rusqlite::Error> },
    /// The database was written by a newer AutoMix.
    #[error("the {schema} schema of {path} is at version {found}, newer than this AutoMix understands ({supported}); upgrade AutoMix")]
    TooNew { path: PathBuf, schema: &'static str, found: i64, supported: i64 },
    /// The recorded version could not be read or written.
    #[error("cannot read the {schema} schema version of {path}: {source}")]
    Version { path: PathBuf, schema: &'static str, source: Box<rusqlite::Error> },
}

const VERSIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_versions (name TEXT PRIMARY KEY, version INTEGER NOT NULL)";

/// Brings `schema` in `connection`'s database to its latest version: adopts a database from an
/// earlier AutoMix at the version it has, then runs each missing step in its own `BEGIN
/// IMMEDIATE` transaction (so connections opening the same file at once take turns, and a step
/// either happens whole or not at all). A database already at the latest version is only read.
pub fn apply(connection: &mut Connection, schema: &Schema) -> Result<Applied, MigrationError> {
    for (index, migration) in schema.migrations.iter().enumerate() {
        assert!(
            migration.name.starts_with(&format!("{:04}_", index + 1)) && migration.name.ends_with(".sql"),
            "{} step {} is named {}",
            schema.name,
            index + 1,
            migration.name
        );
    }
    let path = database_path(connection);
    let latest = schema.latest();
    let version_error = |source| MigrationError::Version { path: path.clone(), schema: schema.name, source: Box::new(source) };
    let too_new = |found| MigrationError::TooNew { path: path.clone(), schema: schema.name, found, supported: latest };

    if let Some(current) = recorded_version(connection, schema.name).map_err(version_error)? {
        if current == latest {
            return Ok(Applied { from: current, to: latest, adopted: false });
        }
    }
    let mut first = None;
    let mut adopted = false;
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(version_error)?;
        transaction.execute_batch(VERSIONS_TABLE).map_err(version_error)?;
        let current = match recorded_version(&transaction, schema.name).map_err(version_error)? {
            Some(current) => current,
            None => {
                let found = (schema.adopt)(&transaction).map_err(version_error)?;
                adopted = found > 0;
                record_version(&transaction, schema.name, found).map_err(version_error)?;
                found
            }
        };
        let from = *first.get_or_insert(current);
        if current < 0 {
            return Err(version_error(rusqlite::Error::IntegralValueOutOfRange(1, current)));
        }
        if current > latest {
            return Err(too_new(current));
        }
        if current == latest {
            transaction.commit().map_err(version_error)?;
            return Ok(Applied { from, to: latest, adopted });
        }
        let migration = &schema.migrations[current as usize];
        let step_error =
            |source| MigrationError::Step { path: path.clone(), schema: schema.name, version: current + 1, step: migration.name, source: Box::new(source) };
        transaction.execute_batch(migration.sql).map_err(step_error)?;
        if let Some(then) = migration.then {
            then(&transaction).map_err(step_error)?;
        }
        record_version(&transaction, schema.name, current + 1).map_err(step_error)?;
        transaction.commit().map_err(step_error)?;
    }
}

/// The version `schema_versions` holds for `name`, if the table and the row exist.
pub fn recorded_version(connection: &Connection, name: &str) -> rusqlite::Result<Option<i64>> {
    if !table_exists(connection, "schema_versions")? {
        return Ok(None);
    }
    connection.query_row("SELECT version FROM schema_versions WHERE name = ?1", [name], |row| row.get(0)).optional()
}

fn record_version(connection: &Connection, name: &str, version: i64) -> rusqlite::Result<()> {
    connection.execute(
        "INSERT INTO schema_versions (name, version) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET version = excluded.version",
        rusqlite::params![name, version],
    )?;
    Ok(())
}

/// Whether the database has a table (or view, or virtual table) of this name.
pub fn table_exists(connection: &Connection, table: &str) -> rusqlite::Result<bool> {
    connection
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = ?1 AND type IN ('table', 'view')", [table], |row| row.get::<_, i64>(0))
        .map(|count| count > 0)
}

/// Whether `table` has a column of this name.
pub fn column_exists(connection: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    connection.query_row("SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2", [table, column], |row| row.get::<_, i64>(0)).map(|count| count > 0)
}

/// `PRAGMA user_version`, where rusqlite_migration (the history) and the library kept their
/// versions before `schema_versions`.
pub fn user_version(connection: &Connection) -> rusqlite::Result<i64> {
    connection.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// The file behind `connection`, for error messages.
fn database_path(connection: &Connection) -> PathBuf {
    match connection.path() {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => PathBuf::from("(in-memory database)"),
    }
}
