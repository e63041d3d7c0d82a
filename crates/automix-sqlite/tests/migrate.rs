//! The migration runner on its own: steps in order, one transaction each, versions per schema,
//! adoption of a database from before `schema_versions`, and failures that change nothing.

use std::path::{Path, PathBuf};

use automix_sqlite::migrate::{apply, recorded_version, table_exists, Applied, Migration, MigrationError, Schema};
use rusqlite::Connection;

fn count(connection: &Connection, table: &str) -> i64 {
    connection.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).unwrap()
}

fn fresh(dir: &tempfile::TempDir) -> (PathBuf, Connection) {
    let path = dir.path().join("test.sqlite");
    let connection = Connection::open(&path).unwrap();
    (path, connection)
}

fn never_adopts(_: &Connection) -> rusqlite::Result<i64> {
    Ok(0)
}

/// Adopts a database that has `notes` (made before versions were recorded) at version 1.
fn adopts_notes(connection: &Connection) -> rusqlite::Result<i64> {
    Ok(i64::from(table_exists(connection, "notes")?))
}

const NOTES: Schema = Schema {
    name: "notes",
    migrations: &[
        Migration::sql("0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"),
        Migration::sql("0002_tags.sql", "ALTER TABLE notes ADD COLUMN tag TEXT; UPDATE notes SET tag = 'old';"),
    ],
    adopt: adopts_notes,
};

fn shout(connection: &Connection) -> rusqlite::Result<()> {
    connection.execute("UPDATE notes SET text = upper(text)", []).map(|_| ())
}

#[test]
fn a_new_database_gets_every_step_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut connection) = fresh(&dir);
    assert_eq!(apply(&mut connection, &NOTES).unwrap(), Applied { from: 0, to: 2, adopted: false });
    connection.execute("INSERT INTO notes (text) VALUES ('a')", []).unwrap();
    assert_eq!(apply(&mut connection, &NOTES).unwrap(), Applied { from: 2, to: 2, adopted: false });
    assert_eq!(count(&connection, "notes"), 1);
    assert_eq!(recorded_version(&connection, "notes").unwrap(), Some(2));
}

#[test]
fn a_database_from_before_versions_is_adopted_and_only_the_missing_steps_run() {
    let dir = tempfile::tempdir().unwrap();
    let (_, mut connection) = fresh(&dir);
    connection.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL); INSERT INTO notes (text) VALUES ('kept');").unwrap();
    assert_eq!(apply(&mut connection, &NOTES).unwrap(), Applied { from: 1, to: 2, adopted: true });
    let row: (String, String) = connection.query_row("SELECT text, tag FROM notes", [], |row| Ok((row.get(0)?, row.get(1)?))).unwrap();
    assert_eq!(row, ("kept".to_string(), "old".to_string()));
}

#[test]
fn schemas_sharing_a_file_keep_their_own_versions() {
    const OTHER: Schema =
        Schema { name: "other", migrations: &[Migration::sql("0001_other.sql", "CREATE TABLE other (id INTEGER PRIMARY KEY);")], adopt: never_adopts };
    let dir = tempfile::tempdir().unwrap();
    let (_, mut connection) = fresh(&dir);
    apply(&mut connection, &OTHER).unwrap();
    apply(&mut connection, &NOTES).unwrap();
    assert_eq!((recorded_version(&connection, "other").unwrap(), recorded_version(&connection, "notes").unwrap()), (Some(1), Some(2)));
}

#[test]
fn rust_work_after_a_step_runs_in_its_transaction() {
    const SHOUTING: Schema = Schema {
        name: "notes",
        migrations: &[
            Migration::sql("0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL); INSERT INTO notes (text) VALUES ('hi');"),
            Migration::sql("0002_shout.sql", "ALTER TABLE notes ADD COLUMN tag TEXT;").then(shout),
        ],
        adopt: never_adopts,
    };
    let dir = tempfile::tempdir().unwrap();
    let (_, mut connection) = fresh(&dir);
    apply(&mut connection, &SHOUTING).unwrap();
    assert_eq!(connection.query_row("SELECT text FROM notes", [], |row| row.get::<_, String>(0)).unwrap(), "HI");
}

const FAILING: Schema = Schema {
    name: "notes",
    migrations: &[
        Migration::sql("0001_notes.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"),
        // The ALTER and the INSERT succeed, then the step fails: all of it must be undone.
        Migration::sql("0002_broken.sql", "ALTER TABLE notes ADD COLUMN tag TEXT; INSERT INTO notes (text) VALUES ('half'); SELECT * FROM no_such_table;"),
    ],
    adopt: adopts_notes,
};

fn assert_names_file_and_step(error: &MigrationError, path: &Path, step: &str) {
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "no file in: {message}");
    assert!(message.contains(step), "no step in: {message}");
}

#[test]
fn a_failing_step_is_rolled_back_and_the_error_names_the_file_and_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut connection) = fresh(&dir);
    let error = apply(&mut connection, &FAILING).unwrap_err();
    assert!(matches!(&error, MigrationError::Step { version: 2, step: "0002_broken.sql", schema: "notes", .. }), "{error:?}");
    assert_names_file_and_step(&error, &path, "0002_broken.sql");
    assert!(error.to_string().contains("no_such_table"), "{error}");
    // Step 1 was committed on its own; step 2 left nothing behind.
    assert_eq!(recorded_version(&connection, "notes").unwrap(), Some(1));
    assert_eq!(count(&connection, "notes"), 0);
    assert!(!automix_sqlite::migrate::column_exists(&connection, "notes", "tag").unwrap());
    // And the same error again, not a half-applied state, on the next try.
    assert!(matches!(apply(&mut connection, &FAILING), Err(MigrationError::Step { version: 2, .. })));
}

#[test]
fn a_failing_first_step_after_adoption_leaves_the_file_exactly_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut connection) = fresh(&dir);
    connection.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL); INSERT INTO notes (text) VALUES ('kept');").unwrap();
    let error = apply(&mut connection, &FAILING).unwrap_err();
    assert_names_file_and_step(&error, &path, "0002_broken.sql");
    assert_eq!(recorded_version(&connection, "notes").unwrap(), None, "the adoption was rolled back with the step");
    assert_eq!(connection.query_row("SELECT group_concat(text) FROM notes", [], |row| row.get::<_, String>(0)).unwrap(), "kept");
}

#[test]
fn a_newer_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (path, mut connection) = fresh(&dir);
    apply(&mut connection, &NOTES).unwrap();
    connection.execute("UPDATE schema_versions SET version = 7", []).unwrap();
    let error = apply(&mut connection, &NOTES).unwrap_err();
    assert!(matches!(error, MigrationError::TooNew { found: 7, supported: 2, .. }), "{error:?}");
    assert!(error.to_string().contains(&path.display().to_string()));
}

/// Connections opening one new file at once take turns: every step runs exactly once.
#[test]
fn concurrent_openers_apply_each_step_once() {
    const COUNTED: Schema = Schema {
        name: "counted",
        migrations: &[
            Migration::sql("0001_runs.sql", "CREATE TABLE runs (step INTEGER NOT NULL); INSERT INTO runs VALUES (1);"),
            Migration::sql("0002_again.sql", "INSERT INTO runs VALUES (2);"),
            Migration::sql("0003_and_again.sql", "INSERT INTO runs VALUES (3);"),
        ],
        adopt: never_adopts,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sqlite");
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                let mut connection = Connection::open(&path).unwrap();
                connection.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
                apply(&mut connection, &COUNTED).unwrap();
            });
        }
    });
    let connection = Connection::open(&path).unwrap();
    assert_eq!(
        connection.query_row("SELECT group_concat(step) FROM (SELECT step FROM runs ORDER BY step)", [], |row| row.get::<_, String>(0)).unwrap(),
        "1,2,3"
    );
}

#[test]
fn an_in_memory_database_is_named_as_such() {
    let mut connection = Connection::open_in_memory().unwrap();
    let error = apply(&mut connection, &FAILING).unwrap_err();
    assert!(error.to_string().contains("in-memory"), "{error}");
}
