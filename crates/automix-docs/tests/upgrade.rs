//! A library written by every earlier schema (tests/fixtures/library/v*.sql, rebuilt from the
//! schema code in git history) opens with today's code, keeps its documents, still searches and
//! lists them, and takes new documents.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use automix_docs::{DocsError, DocumentFormat, IndexOptions, Library, SearchMode};
use rusqlite::Connection;

const LATEST: i64 = 5;

/// The fixture loaded into `library.sqlite` in a fresh temporary folder.
fn load(fixture: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("library.sqlite");
    Connection::open(&path).expect("create").execute_batch(fixture).expect("load fixture");
    (dir, path)
}

fn recorded_version(path: &Path) -> Option<i64> {
    automix_sqlite::migrate::recorded_version(&Connection::open(path).expect("open"), "library").expect("read version")
}

fn listed(library: &Library) -> Vec<(String, String, DocumentFormat, usize)> {
    library.documents().expect("list").into_iter().map(|d| (d.path, d.title, d.format, d.chunk_count)).collect()
}

/// The best hit's document path and text for `query`.
fn top_hit(library: &mut Library, query: &str) -> (String, String) {
    let hits = library.search(common::embedder(), query, 3, SearchMode::Hybrid).expect("search");
    let top = hits.first().unwrap_or_else(|| panic!("nothing found for {query:?}"));
    (top.citation.location.path.clone(), top.text.clone())
}

/// An upgraded library indexes a new file, finds it, and removes an old document with its
/// chunks and word-index rows.
fn still_takes_documents(library: &mut Library, old_path: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let new_file = common::write(dir.path(), "lighthouse.txt", b"The lighthouse on Skerry Point was first lit in 1868.\n");
    library.add_paths(common::embedder(), std::slice::from_ref(&new_file), &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).expect("index");
    let (path, _) = top_hit(library, "When was the Skerry Point lighthouse first lit?");
    assert!(path.ends_with("lighthouse.txt"), "{path}");
    assert!(library.document_text(&new_file.to_string_lossy()).expect("text kept").text.contains("1868"));

    let chunks_before = library.chunk_count().expect("count");
    let removed = library.remove(old_path).expect("remove an old document");
    assert_eq!(library.chunk_count().expect("count"), chunks_before - removed.chunk_count);
    let hits = library.search(common::embedder(), "Zorblax coolant", 5, SearchMode::Bm25).expect("search");
    assert!(hits.iter().all(|hit| hit.citation.location.path != old_path), "{hits:#?}");
}

#[test]
fn a_schema_1_library_is_adopted_and_upgraded_with_every_document() {
    let (_dir, path) = load(include_str!("fixtures/library/v1.sql"));
    let mut library = Library::open(&path).expect("open");
    assert_eq!(recorded_version(&path), Some(LATEST));
    assert_eq!(
        listed(&library),
        vec![
            ("/home/ada/docs/manual.pdf".into(), "Pump Manual".into(), DocumentFormat::Pdf, 2),
            ("/home/ada/docs/notes/tokyo.md".into(), "Tokyo".into(), DocumentFormat::Markdown, 1),
        ]
    );
    assert_eq!(library.chunk_count().expect("count"), 3);
    let hits = library.search(common::embedder(), "At what temperature does Zorblax coolant boil?", 3, SearchMode::Hybrid).expect("search");
    assert!(hits[0].text.contains("412 kelvin"), "{hits:#?}");
    assert_eq!(
        (hits[0].citation.location.title.as_str(), hits[0].citation.location.page_start, hits[0].citation.location.page_label_start.as_deref()),
        ("Pump Manual", Some(2), None)
    );
    // Step 3 folded the old chunks into the new index: the ligature and the Japanese are found.
    for query in ["file sights", "京都"] {
        assert_eq!(top_hit(&mut library, query).0, "/home/ada/docs/notes/tokyo.md", "{query}");
    }
    // The next add or sync reads the old documents again, to keep their text.
    assert!(library.documents().expect("list").iter().all(|document| document.content_hash.is_empty()));
    assert!(matches!(library.document_text("/home/ada/docs/manual.pdf"), Err(DocsError::TextNotKept { .. })));
    assert!(library.folders().expect("folders").is_empty());
    still_takes_documents(&mut library, "/home/ada/docs/manual.pdf");
}

#[test]
fn a_schema_2_library_keeps_its_folders_and_documents() {
    let (_dir, path) = load(include_str!("fixtures/library/v2.sql"));
    let mut library = Library::open(&path).expect("open");
    assert_eq!(recorded_version(&path), Some(LATEST));
    assert_eq!(library.folders().expect("folders"), vec![PathBuf::from("/home/ada/docs")]);
    assert_eq!(
        listed(&library),
        vec![
            ("/home/ada/docs/handbook.docx".into(), "Staff Handbook".into(), DocumentFormat::Docx, 2),
            ("/home/ada/docs/notes/garden.md".into(), "Garden".into(), DocumentFormat::Markdown, 1),
        ]
    );
    let hits = library.search(common::embedder(), "How many weeks of parental leave?", 3, SearchMode::Hybrid).expect("search");
    assert_eq!(
        (hits[0].citation.location.path.as_str(), hits[0].citation.location.section.as_deref()),
        ("/home/ada/docs/handbook.docx", Some("Leave > Parental leave")),
        "{hits:#?}"
    );
    assert_eq!(top_hit(&mut library, "tomatoes sun").0, "/home/ada/docs/notes/garden.md");
    assert!(library.documents().expect("list").iter().all(|document| document.content_hash.is_empty()));
    still_takes_documents(&mut library, "/home/ada/docs/handbook.docx");
    assert_eq!(library.folders().expect("folders").len(), 1);
}

#[test]
fn a_schema_3_library_is_adopted_as_it_is() {
    let (_dir, path) = load(include_str!("fixtures/library/v3.sql"));
    let mut library = Library::open(&path).expect("open");
    assert_eq!(recorded_version(&path), Some(LATEST));
    let user_version: i64 = Connection::open(&path).expect("open").query_row("PRAGMA user_version", [], |row| row.get(0)).expect("read");
    assert_eq!(user_version, 3, "left as the old scheme wrote it");
    assert_eq!(listed(&library).len(), 2);
    // Adopting reads nothing again: the hashes stay.
    assert!(library.documents().expect("list").iter().all(|document| document.content_hash.len() == 64));

    let text = library.document_text("/home/ada/docs/manual.pdf").expect("text kept");
    let pages: Vec<(u32, Option<&str>, &str)> = text.pages.iter().map(|page| (page.number, page.label.as_deref(), page.text.as_str())).collect();
    assert_eq!(
        pages,
        vec![
            (5, Some("iv"), "The pump manual covers installation and daily care.\nMount the pump on a level concrete base."),
            (6, Some("v"), "Zorblax coolant boils at 412 kelvin under normal pressure.\nReplace the coolant every two years."),
        ]
    );
    let hits = library.search(common::embedder(), "How often is the coolant replaced?", 3, SearchMode::Hybrid).expect("search");
    assert!(hits[0].text.contains("every two years"), "{hits:#?}");
    assert_eq!(hits[0].citation.location.pages().as_deref(), Some("p. v (PDF page 6)"));
    assert_eq!(top_hit(&mut library, "oolong").0, "/home/ada/docs/notes/tea.md");
    still_takes_documents(&mut library, "/home/ada/docs/manual.pdf");
    drop(library);
    assert_eq!(Library::open(&path).expect("reopen").chunk_count().expect("count"), 2);
}

/// Step 3 fails part-way (after its SQL, in the Rust fold): the whole step is undone, the file
/// stays a schema 2 library, and the error names the file and the step.
#[test]
fn a_failing_step_leaves_the_library_as_it_was_and_names_the_file_and_the_step() {
    let (_dir, path) = load(include_str!("fixtures/library/v2.sql"));
    // Step 3's fold updates every chunk: refuse it.
    Connection::open(&path)
        .expect("open")
        .execute_batch("CREATE TRIGGER refuse BEFORE UPDATE ON chunks BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END;")
        .expect("trigger");

    let error = Library::open(&path).err().expect("the upgrade fails");
    let message = error.to_string();
    assert!(matches!(error, DocsError::Migration(_)), "{error:?}");
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("0003_folded_index_and_kept_text.sql")
            && message.contains("refused by a test trigger"),
        "{message}"
    );

    let connection = Connection::open(&path).expect("open");
    assert_eq!(automix_sqlite::migrate::recorded_version(&connection, "library").expect("read"), None);
    assert!(!automix_sqlite::migrate::table_exists(&connection, "pages").expect("read"), "step 3's tables were rolled back");
    assert!(!automix_sqlite::migrate::column_exists(&connection, "chunks", "index_text").expect("read"));
    let hashes: i64 = connection.query_row("SELECT count(*) FROM documents WHERE content_hash <> ''", [], |row| row.get(0)).expect("read");
    assert_eq!(hashes, 2, "step 3's hash reset was rolled back");
    let found: i64 = connection.query_row("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'tomatoes'", [], |row| row.get(0)).expect("old index");
    assert_eq!(found, 1, "the schema 2 word index is still there");

    connection.execute_batch("DROP TRIGGER refuse").expect("drop");
    let mut library = Library::open(&path).expect("open once the obstacle is gone");
    assert_eq!(top_hit(&mut library, "tomatoes sun").0, "/home/ada/docs/notes/garden.md");
}

#[test]
fn a_library_from_a_newer_automix_is_refused() {
    let (_dir, path) = load(include_str!("fixtures/library/v3.sql"));
    Connection::open(&path).expect("open").execute_batch("PRAGMA user_version = 6;").expect("pretend a newer schema");
    let error = Library::open(&path).err().expect("refused");
    assert!(matches!(error, DocsError::SchemaTooNew { found: 6, supported: LATEST, .. }), "{error:?}");
    assert_eq!(recorded_version(&path), None, "nothing written");
}
