//! The one SQLite migration scheme of AutoMix, shared by the history, the budget ledger and the
//! document library: see [`migrate`].

pub mod migrate;

use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode};

/// Opens (creating as needed) the database file at `path`, and the folder it goes in: on a new
/// machine the app's data folder does not exist until its first database is made. A folder that
/// cannot be made shows up as the open's own error.
pub fn open_creating_folder(path: &std::path::Path) -> rusqlite::Result<Connection> {
    if let Some(folder) = path.parent().filter(|folder| !folder.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(folder);
    }
    Connection::open(path)
}

/// Switches the database to WAL mode, retrying while another connection holds it. On a new file
/// still in rollback mode, the switch needs an exclusive lock; when a second connection is
/// migrating at that moment, SQLite answers SQLITE_BUSY at once instead of waiting (waiting
/// could deadlock), so the busy timeout does not cover it. The app opens the history and the
/// ledger on one new file at the same time, which is exactly that.
pub fn enable_wal(connection: &Connection) -> rusqlite::Result<()> {
    const PATIENCE: Duration = Duration::from_secs(10);
    let started = Instant::now();
    loop {
        match connection.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(error, _)) if error.code == ErrorCode::DatabaseBusy && started.elapsed() < PATIENCE => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_in_a_folder_not_made_yet_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("share").join("automix").join("history.sqlite");
        let connection = open_creating_folder(&path).unwrap();
        connection.execute_batch("CREATE TABLE t (x)").unwrap();
        assert!(path.is_file());
    }

    #[test]
    fn wal_is_enabled_even_while_another_connection_holds_the_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("BEGIN IMMEDIATE; CREATE TABLE t (x INTEGER);").unwrap();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            holder.execute_batch("COMMIT").unwrap();
        });
        let connection = Connection::open(&path).unwrap();
        connection.busy_timeout(Duration::from_secs(5)).unwrap();
        enable_wal(&connection).unwrap();
        releaser.join().unwrap();
        let mode: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }
}
