//! Indexing, searching and recovering a real library with the real embedding model.

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use automix_docs::{ChunkingConfig, DocsError, FileOutcome, FileReport, FolderWatcher, IndexOptions, Library, SearchMode, WordTokenEstimate};

fn add(library: &mut Library, paths: &[PathBuf], options: &IndexOptions) -> Vec<FileReport> {
    library.add_paths(common::embedder(), paths, options, &mut |_| {}, &AtomicBool::new(false)).expect("indexing runs")
}

fn outcome_for<'a>(reports: &'a [FileReport], name: &str) -> &'a FileOutcome {
    &reports.iter().find(|report| report.path.ends_with(name)).unwrap_or_else(|| panic!("no report for {name}: {reports:?}")).outcome
}

fn failure(reports: &[FileReport], name: &str) -> String {
    match outcome_for(reports, name) {
        FileOutcome::Failed { error } => error.clone(),
        other => panic!("{name} should have failed, got {other:?}"),
    }
}

/// A small mixed library: every format, one fact per file.
fn write_samples(dir: &Path) {
    common::write(
        dir,
        "manual.pdf",
        &common::pdf_bytes(
            &[
                &["The pump manual covers installation and daily care.", "Mount the pump on a level concrete base."],
                &["Zorblax coolant boils at 412 kelvin under normal pressure.", "Replace the coolant every two years."],
            ],
            Some("Pump Manual"),
        ),
    );
    common::write(
        dir,
        "handbook.docx",
        &common::docx_bytes(
            "Staff Handbook",
            &[
                (Some("Heading1"), "Leave"),
                (Some("Heading2"), "Parental leave"),
                (None, "Employees receive eighteen weeks of paid parental leave."),
                (Some("Heading2"), "Holidays"),
                (None, "The office closes between Christmas and New Year."),
            ],
        ),
    );
    common::write(dir, "notes/garden.md", b"# Garden\n\nTomatoes need six hours of direct sun each day.\n");
    common::write(dir, "notes/tea.html", b"<html><head><title>Tea</title></head><body><p>Oolong is partially oxidised tea.</p></body></html>");
    common::write(dir, "notes/history.txt", b"The lighthouse on Skerry Point was first lit in 1868.\n");
}

#[test]
fn a_mixed_folder_is_indexed_with_citations_and_broken_files_fail_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_samples(dir.path());
    common::write(dir.path(), "broken/locked.pdf", &common::encrypted_pdf_bytes());
    common::write(dir.path(), "broken/scan.pdf", &common::image_only_pdf_bytes());
    common::write(dir.path(), "broken/cut.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog");
    common::write(dir.path(), "broken/bad.docx", b"PK\x03\x04 not really a zip");
    common::write(dir.path(), "broken/empty.txt", b"");
    common::write(dir.path(), "broken/blob.txt", &(0..1000u32).map(|value| (value % 256) as u8).collect::<Vec<_>>());
    common::write(dir.path(), "broken/huge.txt", "word ".repeat(400).as_bytes());

    let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open library");
    // Chunks small enough that each PDF paragraph, and so each page, gets its own.
    let chunking = automix_docs::ChunkingConfig { max_tokens: 24, overlap_tokens: 6 };
    let options = IndexOptions { max_file_bytes: 1500, chunking, ..IndexOptions::default() };
    let mut progress_events = Vec::new();
    let reports = library
        .add_paths(common::embedder(), &[dir.path().to_path_buf()], &options, &mut |progress| progress_events.push(progress.clone()), &AtomicBool::new(false))
        .expect("batch completes despite broken files");

    assert_eq!(reports.len(), 12, "{reports:#?}");
    for name in ["manual.pdf", "handbook.docx", "garden.md", "tea.html", "history.txt"] {
        assert!(matches!(outcome_for(&reports, name), FileOutcome::Added { chunks, .. } if *chunks > 0), "{name}: {reports:#?}");
    }
    assert!(failure(&reports, "locked.pdf").contains("password-protected"));
    assert!(failure(&reports, "scan.pdf").contains("no text layer"));
    assert!(failure(&reports, "cut.pdf").contains("not a readable pdf"));
    assert!(failure(&reports, "bad.docx").contains("not a readable docx"));
    assert!(failure(&reports, "empty.txt").contains("empty"));
    assert!(failure(&reports, "blob.txt").contains("binary file"), "{}", failure(&reports, "blob.txt"));
    assert!(failure(&reports, "huge.txt").contains("over the 1500-byte limit"));
    let last = progress_events.last().expect("progress reported");
    assert_eq!((last.files_done, last.files_total), (12, 12));
    assert_eq!(last.chunks_indexed, library.chunk_count().expect("count"));

    // The PDF fact is found, cited to page 2 of the manual.
    let hits = library.search(common::embedder(), "At what temperature does Zorblax coolant boil?", 3, SearchMode::Hybrid).expect("search");
    let top = &hits[0];
    assert!(top.text.contains("412 kelvin"), "{hits:#?}");
    assert_eq!(top.citation.location.title, "Pump Manual");
    assert!(top.citation.location.path.ends_with("manual.pdf"));
    assert_eq!((top.citation.location.page_start, top.citation.location.page_end), (Some(2), Some(2)));
    assert!(top.citation.snippet.contains("Zorblax coolant boils"), "{}", top.citation.snippet);
    assert!(top.citation.location.char_end > top.citation.location.char_start);

    // The DOCX fact carries its heading path, both in the citation and in the chunk text.
    let hits = library.search(common::embedder(), "How many weeks of parental leave do employees get?", 3, SearchMode::Vector).expect("search");
    assert_eq!(hits[0].citation.location.section.as_deref(), Some("Leave > Parental leave"), "{hits:#?}");
    assert!(hits[0].text.starts_with("Leave > Parental leave\n"));

    let bm25 = library.search(common::embedder(), "lighthouse Skerry", 5, SearchMode::Bm25).expect("search");
    assert!(bm25[0].citation.location.path.ends_with("history.txt"), "{bm25:#?}");
}

#[test]
fn retrieve_fills_the_budget_best_first_in_document_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_samples(dir.path());
    let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open library");
    add(&mut library, &[dir.path().to_path_buf()], &IndexOptions::default());

    let chosen = library.retrieve(common::embedder(), "When was the lighthouse on Skerry Point first lit?", 40, &WordTokenEstimate).expect("retrieve");
    let used: usize = chosen.iter().map(|hit| automix_docs::TokenCounter::count_tokens(&WordTokenEstimate, &hit.text)).sum();
    assert!(used <= 40, "{used} tokens chosen for a 40-token budget");
    assert!(chosen.iter().any(|hit| hit.text.contains("1868")), "{chosen:#?}");
    // The answer's chunk is close to the question in embedding space; BM25 alone measures no similarity.
    let answer_similarity = chosen.iter().find(|hit| hit.text.contains("1868")).and_then(|hit| hit.similarity);
    assert!(answer_similarity.is_some_and(|similarity| similarity > 0.3 && similarity <= 1.0), "{answer_similarity:?}");
    let bm25 = library.search(common::embedder(), "lighthouse Skerry Point", 3, SearchMode::Bm25).expect("search");
    assert!(!bm25.is_empty() && bm25.iter().all(|hit| hit.similarity.is_none()));
    let order: Vec<(&str, usize)> = chosen.iter().map(|hit| (hit.citation.location.path.as_str(), hit.citation.location.char_start)).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
}

#[test]
fn re_adding_is_idempotent_changes_reindex_and_remove_forgets() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_samples(dir.path());
    let library_path = dir.path().join("library.sqlite");
    let mut library = Library::open(&library_path).expect("open library");
    add(&mut library, &[dir.path().to_path_buf()], &IndexOptions::default());
    let documents = library.documents().expect("list");
    let chunks = library.chunk_count().expect("count");
    assert_eq!(documents.len(), 5);

    let again = add(&mut library, &[dir.path().to_path_buf()], &IndexOptions::default());
    assert!(again.iter().all(|report| matches!(report.outcome, FileOutcome::Unchanged { .. })), "{again:#?}");
    assert_eq!(library.documents().expect("list"), documents);
    assert_eq!(library.chunk_count().expect("count"), chunks);

    let garden = common::write(dir.path(), "notes/garden.md", b"# Garden\n\nCucumbers climb a trellis of hazel rods.\n");
    let changed = add(&mut library, std::slice::from_ref(&garden), &IndexOptions::default());
    assert!(matches!(changed[0].outcome, FileOutcome::Updated { .. }), "{changed:#?}");
    let hits = library.search(common::embedder(), "tomatoes sun", 10, SearchMode::Bm25).expect("search");
    assert!(hits.iter().all(|hit| !hit.text.contains("Tomatoes")), "old text still indexed: {hits:#?}");
    let hits = library.search(common::embedder(), "cucumbers trellis", 1, SearchMode::Hybrid).expect("search");
    assert!(hits[0].text.contains("hazel rods"));

    let removed = library.remove(&garden.to_string_lossy()).expect("remove by path");
    assert!(removed.path.ends_with("garden.md"));
    let history_id = library.documents().expect("list").iter().find(|doc| doc.path.ends_with("history.txt")).expect("history").id;
    library.remove(&history_id.to_string()).expect("remove by id");
    assert_eq!(library.documents().expect("list").len(), 3);
    for query in ["cucumbers trellis", "lighthouse Skerry"] {
        let hits = library.search(common::embedder(), query, 10, SearchMode::Hybrid).expect("search");
        assert!(hits.iter().all(|hit| !hit.citation.location.path.ends_with("garden.md") && !hit.citation.location.path.ends_with("history.txt")));
    }
    assert!(matches!(library.remove("no-such-doc"), Err(DocsError::UnknownDocument(_))));

    // Reopening sees the same state (WAL is checkpointed or replayed).
    drop(library);
    assert_eq!(Library::open(&library_path).expect("reopen").documents().expect("list").len(), 3);
}

fn sync(library: &mut Library) -> Vec<FileReport> {
    library.sync(common::embedder(), &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false)).expect("sync runs")
}

#[test]
fn an_added_folder_is_remembered_watched_and_synced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("notes");
    common::write(&folder, "ferry.md", b"# Ferry\n\nThe ferry to Lundy leaves at nine.\n");
    common::write(&folder, "bees.txt", b"Beekeepers harvest heather honey in August.\n");
    let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open library");
    add(&mut library, std::slice::from_ref(&folder), &IndexOptions::default());
    let folder = std::fs::canonicalize(&folder).expect("canonical");
    assert_eq!(library.folders().expect("folders"), vec![folder.clone()]);

    let watcher = FolderWatcher::new(&library.folders().expect("folders")).expect("watch");
    common::write(&folder, "ferry.md", b"# Ferry\n\nFrom May the ferry to Lundy leaves at ten.\n");
    std::fs::remove_file(folder.join("bees.txt")).expect("delete");
    common::write(&folder, "birds/puffins.html", b"<html><body><p>Puffins nest on the west cliffs.</p></body></html>");
    // Usually one batch; a loaded machine may split it, so batches are gathered for a while.
    let mut changes = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(changes.iter().any(|path: &PathBuf| path.ends_with("ferry.md")) && changes.iter().any(|path| path.ends_with("bees.txt"))) {
        assert!(Instant::now() < deadline, "the watcher missed changes: {changes:?}");
        changes.extend(watcher.next_changes(Duration::from_millis(300), &AtomicBool::new(false)).expect("a batch of changes"));
    }

    let reports = sync(&mut library);
    // Reading the folders and files during the sync is no change: the watcher stays quiet.
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(1500));
            stop.store(true, Ordering::Relaxed);
        })
    };
    let after_sync = watcher.next_changes(Duration::from_millis(200), &stop);
    stopper.join().expect("stopper");
    assert!(after_sync.is_none(), "the sync's own reads woke the watcher: {after_sync:?}");
    assert!(matches!(outcome_for(&reports, "ferry.md"), FileOutcome::Updated { .. }), "{reports:#?}");
    assert!(matches!(outcome_for(&reports, "bees.txt"), FileOutcome::Removed { .. }), "{reports:#?}");
    assert!(matches!(outcome_for(&reports, "puffins.html"), FileOutcome::Added { .. }), "{reports:#?}");
    let hits = library.search(common::embedder(), "When does the ferry leave?", 5, SearchMode::Hybrid).expect("search");
    assert!(hits[0].text.contains("at ten") && hits.iter().all(|hit| !hit.text.contains("nine") && !hit.text.contains("honey")), "{hits:#?}");

    // Nothing changed, or only the modification time: nothing is re-indexed.
    let ferry = common::write(&folder, "ferry.md", b"# Ferry\n\nFrom May the ferry to Lundy leaves at ten.\n");
    let reports = sync(&mut library);
    assert!(reports.iter().all(|report| matches!(report.outcome, FileOutcome::Unchanged { .. })), "{reports:#?}");
    // A file whose size and (settled) modification time match is not even read: a same-size
    // edit that restores the old time goes unnoticed, which is the price of not hashing.
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&ferry).and_then(|file| file.set_modified(an_hour_ago)).expect("age the file");
    sync(&mut library);
    common::write(&folder, "ferry.md", b"# Ferry\n\nFrom May the ferry to Lundy leaves at two.\n");
    std::fs::File::options().write(true).open(&ferry).and_then(|file| file.set_modified(an_hour_ago)).expect("age the file");
    let reports = sync(&mut library);
    assert!(matches!(outcome_for(&reports, "ferry.md"), FileOutcome::Unchanged { .. }), "{reports:#?}");

    // A folder that went missing (an unplugged disk) keeps its documents and says so.
    let moved = dir.path().join("moved");
    std::fs::rename(&folder, &moved).expect("move the folder away");
    let reports = sync(&mut library);
    assert!(failure(&reports, "notes").contains("missing"), "{reports:#?}");
    assert_eq!(library.documents().expect("list").len(), 2);

    let with_slash = PathBuf::from(format!("{}/", folder.display()));
    assert!(library.remove_folder(&with_slash).expect("remove a folder that is gone, spelt with a slash"));
    assert!(library.documents().expect("list").is_empty() && library.folders().expect("folders").is_empty());
    let cancelled = AtomicBool::new(true);
    assert!(watcher.next_changes(Duration::from_millis(100), &cancelled).is_none(), "a cancelled wait returns");
}

/// Many-paragraph text files so that indexing takes a while.
fn write_corpus(dir: &Path, files: usize) -> Vec<PathBuf> {
    (0..files)
        .map(|file| {
            let text: String = (0..40)
                .map(|paragraph| format!("File {file} paragraph {paragraph} describes harbour number {} and its cranes.\n\n", file * 100 + paragraph))
                .collect();
            common::write(dir, &format!("corpus/file{file:02}.txt"), text.as_bytes())
        })
        .collect()
}

/// No document may be half there: chunk rows, FTS rows and the stored count must agree.
fn assert_consistent(library_path: &Path) {
    let connection = rusqlite::Connection::open(library_path).expect("open raw");
    let mismatched: i64 = connection
        .query_row("SELECT count(*) FROM documents d WHERE d.chunk_count != (SELECT count(*) FROM chunks c WHERE c.document_id = d.id)", [], |row| row.get(0))
        .expect("query");
    assert_eq!(mismatched, 0, "a document has a partial set of chunks");
    let orphans: i64 =
        connection.query_row("SELECT count(*) FROM chunks WHERE document_id NOT IN (SELECT id FROM documents)", [], |row| row.get(0)).expect("query");
    assert_eq!(orphans, 0);
    let fts: i64 = connection.query_row("SELECT count(*) FROM chunks_fts", [], |row| row.get(0)).expect("query");
    let chunks: i64 = connection.query_row("SELECT count(*) FROM chunks", [], |row| row.get(0)).expect("query");
    assert_eq!(fts, chunks);
}

#[test]
fn a_cancelled_run_leaves_whole_documents_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_corpus(dir.path(), 4);
    let library_path = dir.path().join("library.sqlite");
    let mut library = Library::open(&library_path).expect("open library");
    let cancel = AtomicBool::new(false);
    let options = IndexOptions { chunking: automix_docs::ChunkingConfig { max_tokens: 40, overlap_tokens: 10 }, ..IndexOptions::default() };
    let result = library.add_paths(
        common::embedder(),
        &[dir.path().join("corpus")],
        &options,
        &mut |progress| {
            // Cancel in the middle of the second file's embeddings.
            if progress.files_done == 1 && progress.current_file.is_some() && progress.chunks_indexed > 0 {
                cancel.store(true, Ordering::Relaxed);
            }
        },
        &cancel,
    );
    assert!(matches!(result, Err(DocsError::Cancelled)), "{result:?}");
    assert_eq!(library.documents().expect("list").len(), 1);
    assert_consistent(&library_path);

    let resumed = library.add_paths(common::embedder(), &[dir.path().join("corpus")], &options, &mut |_| {}, &AtomicBool::new(false)).expect("resume");
    assert!(matches!(outcome_for(&resumed, "file00.txt"), FileOutcome::Unchanged { .. }));
    for file in &files[1..] {
        let name = file.file_name().expect("name").to_string_lossy();
        assert!(matches!(outcome_for(&resumed, &name), FileOutcome::Added { .. }), "{resumed:#?}");
    }
    assert_consistent(&library_path);
}

const KILL_CHILD_ENV: &str = "AUTOMIX_DOCS_INDEX_UNTIL_KILLED";

/// Runs as the parent normally; the copy of this test started with KILL_CHILD_ENV indexes
/// until the parent kills it with SIGKILL, like a crash or a closed laptop lid.
#[test]
fn a_killed_indexer_leaves_no_partial_document_and_a_rerun_completes() {
    let options = IndexOptions { chunking: automix_docs::ChunkingConfig { max_tokens: 30, overlap_tokens: 8 }, ..IndexOptions::default() };
    if let Some(dir) = std::env::var_os(KILL_CHILD_ENV) {
        let dir = PathBuf::from(dir);
        let mut library = Library::open(&dir.join("library.sqlite")).expect("child opens library");
        add(&mut library, &[dir.join("corpus")], &options);
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let files = write_corpus(dir.path(), 12);
    let library_path = dir.path().join("library.sqlite");
    drop(Library::open(&library_path).expect("create library"));
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "a_killed_indexer_leaves_no_partial_document_and_a_rerun_completes", "--nocapture"])
        .env(KILL_CHILD_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start child indexer");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let committed = Library::open(&library_path).and_then(|library| library.documents()).map(|documents| documents.len()).unwrap_or(0);
        if committed >= 1 || Instant::now() > deadline || child.try_wait().expect("poll child").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().ok();
    child.wait().expect("reap child");

    assert_consistent(&library_path);
    let mut library = Library::open(&library_path).expect("reopen after kill");
    let committed: Vec<String> = library.documents().expect("list").into_iter().map(|document| document.path).collect();
    assert!(!committed.is_empty(), "the child committed nothing before the deadline");
    let reports = add(&mut library, &[dir.path().join("corpus")], &options);
    assert_eq!(reports.len(), files.len());
    for report in &reports {
        let was_committed = committed.contains(&report.path.to_string_lossy().into_owned());
        match &report.outcome {
            FileOutcome::Unchanged { .. } => assert!(was_committed, "{report:?}"),
            FileOutcome::Added { .. } => assert!(!was_committed, "{report:?}"),
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!(library.documents().expect("list").len(), files.len());
    assert_consistent(&library_path);
}

#[test]
fn embeddings_are_unit_length_and_rank_paraphrases_first() {
    let embedder = common::embedder();
    let texts = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby on her back."];
    let vectors = embedder.embed(&texts).expect("embed");
    assert_eq!(vectors.len(), 3);
    assert!(vectors.iter().all(|vector| vector.len() == embedder.dimension() && embedder.dimension() == 384));
    for vector in &vectors {
        let norm: f32 = vector.iter().map(|value| value * value).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    let cosine = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cosine(&vectors[0], &vectors[1]) > cosine(&vectors[0], &vectors[2]) + 0.3);
    // Batching and padding must not change a text's vector.
    let alone = embedder.embed_one(texts[2]).expect("embed one");
    assert!(cosine(&alone, &vectors[2]) > 0.9999);
}

/// Our encoder (int8 matmuls and its own GELU/softmax where the CPU allows) against
/// candle-transformers' f32 BERT on the same padded batch: the same vectors up to rounding.
#[test]
fn embeddings_match_candles_reference_bert() {
    use candle_transformers::models::bert::{BertModel, Config};
    let embedder = common::embedder();
    let dir = automix_docs::default_model_dir();
    let config: Config = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let tensors = candle_core::safetensors::load(dir.join("model.safetensors"), &candle_core::Device::Cpu).unwrap();
    let reference = BertModel::load(candle_nn::VarBuilder::from_tensors(tensors, candle_core::DType::F32, &candle_core::Device::Cpu), &config).unwrap();
    let long = "The Loire is the longest river in France, flowing 1,006 kilometres from the Massif Central to the Atlantic. ".repeat(12);
    let texts = ["Paris is the capital of France.", "Short.", long.as_str(), "Ünïcödé façade, naïve café — 42 €"];
    let ours = embedder.embed(&texts).expect("embed");
    let (ids, mask) = embedder.batch_inputs(&texts).expect("tokenize");
    let hidden = reference.forward(&ids, &ids.zeros_like().unwrap(), Some(&mask)).unwrap();
    let expected = automix_docs::embed::mean_pool_normalized(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap();
    for (text, (a, b)) in texts.iter().zip(ours.iter().zip(&expected)) {
        let cosine: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        assert!(cosine > 0.999, "{text:.30}: cosine {cosine} to the reference");
    }
}

#[test]
fn missing_or_damaged_model_files_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let error = automix_docs::Embedder::load(dir.path(), &candle_core::Device::Cpu).err().expect("empty folder must fail");
    assert!(error.to_string().contains("config.json") && error.to_string().contains("models pull"), "{error}");
    let source = automix_docs::default_model_dir();
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(source.join(name), dir.path().join(name)).expect("copy model file");
    }
    std::fs::write(dir.path().join("model.safetensors"), b"truncated download").expect("write");
    let error = automix_docs::Embedder::load(dir.path(), &candle_core::Device::Cpu).err().expect("damaged weights must fail");
    assert!(matches!(error, automix_docs::EmbedError::DamagedFile { ref path, .. } if path.ends_with("model.safetensors")), "{error}");
}

#[test]
fn a_search_connection_sees_what_another_connection_indexes_and_removes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let library_path = dir.path().join("library.sqlite");
    let mut writer = Library::open(&library_path).expect("open the writing side");
    let mut reader = Library::open(&library_path).expect("open the searching side");
    let first = common::write(dir.path(), "first.md", b"# Kites\n\nBox kites fly steadily in strong wind.\n");
    add(&mut writer, &[first], &IndexOptions::default());
    // The reader loads its vectors now, then must notice the writer's commits without reopening.
    let hits = reader.retrieve_from(common::embedder(), "kites in wind", 256, &WordTokenEstimate, None).expect("retrieve");
    assert!(hits.iter().any(|hit| hit.text.contains("Box kites")));
    let second = common::write(dir.path(), "second.md", b"# Bees\n\nHoneybees dance to show where the clover grows.\n");
    add(&mut writer, &[second], &IndexOptions::default());
    let hits = reader.search(common::embedder(), "where does clover grow for honeybees", 1, SearchMode::Vector).expect("search");
    assert!(hits[0].text.contains("Honeybees"), "the new chunk is not seen by the vector search: {hits:#?}");
    let bees = hits[0].citation.location.document_id;
    let kites_only = reader.retrieve_from(common::embedder(), "honeybees clover", 256, &WordTokenEstimate, Some(&[bees + 1000])).expect("retrieve");
    assert!(kites_only.is_empty(), "a scope of unknown documents retrieves nothing");
    writer.remove(&bees.to_string()).expect("remove");
    let hits = reader.search(common::embedder(), "honeybees clover", 5, SearchMode::Vector).expect("search");
    assert!(hits.iter().all(|hit| !hit.text.contains("Honeybees")), "a removed chunk is still found: {hits:#?}");
}

/// The copy of the walk test started with this variable runs the walk as an unprivileged user in
/// the folder it names, with AUTOMIX_HOME holding a readable copy of the embedder.
const UNPRIVILEGED_WALK_ENV: &str = "AUTOMIX_DOCS_UNPRIVILEGED_WALK_DIR";
/// Set to 1 to let the walk test pass without the unreadable-subfolder case where permissions
/// cannot be enforced (running as root without the right to become another user).
const SKIP_UNREADABLE_ENV: &str = "AUTOMIX_TEST_SKIP_UNREADABLE_FOLDER";
/// nobody / nogroup on Debian, and the kernel's overflow id elsewhere.
const UNPRIVILEGED_ID: u32 = 65534;
const UNPRIVILEGED_MARKER: &str = "unreadable-folder walk checked as uid";

/// A link back into the folder it sits in, a broken link and a subfolder the user may not read are
/// each reported and skipped; the rest of the folder is indexed. Root reads every folder, so where
/// the suite runs as root this test reruns itself as `nobody` to see a real permission error.
#[test]
fn a_folder_walk_survives_link_loops_broken_links_and_unreadable_subfolders() {
    use std::os::unix::fs::MetadataExt;
    if let Some(dir) = std::env::var_os(UNPRIVILEGED_WALK_ENV) {
        let dir = PathBuf::from(dir);
        walk_with_an_unreadable_subfolder(&dir, true);
        let uid = std::fs::metadata(dir.join("papers/a.txt")).expect("written file").uid();
        println!("{UNPRIVILEGED_MARKER} {uid}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    if permissions_are_enforced(dir.path()) {
        walk_with_an_unreadable_subfolder(dir.path(), true);
        return;
    }
    let started = Instant::now();
    match walk_as_unprivileged_user(dir.path()) {
        Ok(output) => {
            let stdout = String::from_utf8_lossy(&output.stdout);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(output.status.success(), "the walk as uid {UNPRIVILEGED_ID} failed ({}):\n{stdout}\n{stderr}", output.status);
            assert!(
                stdout.contains(&format!("{UNPRIVILEGED_MARKER} {UNPRIVILEGED_ID}")),
                "the unprivileged copy of the test did not run the walk:\n{stdout}\n{stderr}"
            );
            println!("{UNPRIVILEGED_MARKER} {UNPRIVILEGED_ID} in a child process ({:?})", started.elapsed());
        }
        Err(reason) if std::env::var_os(SKIP_UNREADABLE_ENV).is_some_and(|value| value == "1") => {
            walk_with_an_unreadable_subfolder(dir.path(), false);
            println!("the unreadable-folder case was skipped ({SKIP_UNREADABLE_ENV}=1): {reason}");
        }
        Err(reason) => panic!(
            "permissions are not enforced for this user and the walk cannot run as uid {UNPRIVILEGED_ID}: {reason}; \
             set {SKIP_UNREADABLE_ENV}=1 to skip the unreadable-folder case"
        ),
    }
}

/// Whether this user is refused a folder with mode 000 (not so for root).
fn permissions_are_enforced(dir: &Path) -> bool {
    let probe = dir.join("probe");
    std::fs::create_dir(&probe).expect("probe folder");
    std::fs::set_permissions(&probe, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("lock probe");
    let enforced = std::fs::read_dir(&probe).is_err();
    std::fs::remove_dir(&probe).expect("remove probe");
    enforced
}

/// Reruns this test as uid/gid 65534 in `dir`, handed over to that user, with the test binary and
/// the embedder linked (or copied) into it, as the originals may sit under root's private home.
fn walk_as_unprivileged_user(dir: &Path) -> Result<std::process::Output, String> {
    use std::os::unix::process::CommandExt;
    let link_or_copy = |from: &Path, to: &Path| {
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop)).map_err(|error| format!("{} to {}: {error}", from.display(), to.display()))
    };
    let models = dir.join("home/models").join(automix_docs::EMBEDDING_MODEL_NAME);
    std::fs::create_dir_all(&models).map_err(|error| error.to_string())?;
    let source = automix_docs::default_model_dir();
    assert!(source.join("model.safetensors").is_file(), "all-MiniLM-L6-v2 is not in {}; run `make test` first", source.display());
    for name in ["config.json", "tokenizer.json", "model.safetensors"] {
        link_or_copy(&source.join(name), &models.join(name))?;
    }
    let binary = dir.join("library-test");
    link_or_copy(&std::env::current_exe().map_err(|error| error.to_string())?, &binary)?;
    let work = dir.join("walk");
    std::fs::create_dir(&work).map_err(|error| error.to_string())?;
    for owned in [dir, work.as_path()] {
        std::os::unix::fs::chown(owned, Some(UNPRIVILEGED_ID), Some(UNPRIVILEGED_ID)).map_err(|error| format!("chown {}: {error}", owned.display()))?;
    }
    std::process::Command::new(&binary)
        .args(["--exact", "a_folder_walk_survives_link_loops_broken_links_and_unreadable_subfolders", "--nocapture", "--test-threads=1"])
        .env(UNPRIVILEGED_WALK_ENV, &work)
        .env("AUTOMIX_HOME", dir.join("home"))
        .env("HOME", &work)
        .current_dir(&work)
        .uid(UNPRIVILEGED_ID)
        .gid(UNPRIVILEGED_ID)
        .output()
        .map_err(|error| format!("starting the test binary as uid {UNPRIVILEGED_ID}: {error}"))
}

/// The walk itself; `enforced` false only where the skip variable lets an unlocked folder pass.
fn walk_with_an_unreadable_subfolder(dir: &Path, enforced: bool) {
    let folder = dir.join("papers");
    common::write(&folder, "a.txt", b"The first note is about herons.\n");
    common::write(&folder, "inner/b.md", b"# Second\n\nThe second note is about otters.\n");
    common::write(&folder, "locked/c.txt", b"The third note is about badgers.\n");
    std::os::unix::fs::symlink(&folder, folder.join("inner/back-up")).expect("loop link");
    std::os::unix::fs::symlink(folder.join("missing.txt"), folder.join("broken.txt")).expect("broken link");
    let locked = folder.join("locked");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("lock");
    assert_eq!(std::fs::read_dir(&locked).is_err(), enforced, "is a folder with mode 000 unreadable for this user?");
    let mut library = Library::open(&dir.join("library.sqlite")).expect("open");
    let reports = add(&mut library, std::slice::from_ref(&folder), &IndexOptions::default());
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("unlock");

    assert!(matches!(outcome_for(&reports, "a.txt"), FileOutcome::Added { .. }), "{reports:?}");
    assert!(matches!(outcome_for(&reports, "inner/b.md"), FileOutcome::Added { .. }), "{reports:?}");
    let loop_error = failure(&reports, "inner/back-up");
    assert!(loop_error.contains("links back to") && loop_error.contains("papers"), "{loop_error}");
    let broken_error = failure(&reports, "broken.txt");
    assert!(broken_error.contains("does not exist"), "{broken_error}");
    if enforced {
        let locked_error = failure(&reports, "locked");
        assert!(locked_error.contains("permission denied"), "{locked_error}");
    } else {
        assert!(matches!(outcome_for(&reports, "locked/c.txt"), FileOutcome::Added { .. }), "{reports:?}");
    }
    // The walk stopped at the loop: every document is in the library once.
    assert_eq!(library.documents().expect("list").len(), if enforced { 2 } else { 3 });
}

/// Chinese and Japanese text has no spaces between words; the word index still finds passages
/// for a question in the same script, and a ligature in the text matches the plain letters.
#[test]
fn searches_find_chinese_japanese_and_ligature_text_by_its_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("docs");
    common::write(&folder, "tokyo.txt", "東京都の人口は約千四百万人です。日本の首都であり、政治と経済の中心です。".as_bytes());
    common::write(&folder, "beijing.txt", "北京是中华人民共和国的首都，有三千多年的建城史。长城位于北京的北部。".as_bytes());
    common::write(&folder, "report.txt", "The annual report lists every ﬁle the auditors reviewed.".as_bytes());
    common::write(&folder, "english.txt", b"The capital of France is Paris, on the Seine.");
    let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open");
    add(&mut library, &[folder], &IndexOptions::default());
    for (question, expected) in [("東京の人口は？", "tokyo.txt"), ("长城在哪里？", "beijing.txt"), ("Which file did the auditors review?", "report.txt")]
    {
        let hits = library.search(common::embedder(), question, 3, SearchMode::Bm25).expect("search");
        assert!(hits.first().is_some_and(|hit| hit.citation.location.path.ends_with(expected)), "{question}: {hits:?}");
        // Citations keep the text as printed.
        if expected == "report.txt" {
            assert!(hits[0].text.contains("ﬁle"), "{}", hits[0].text);
        }
    }
}

/// The library keeps the text it read, page by page with printed labels, and cites pages by the
/// label a reader sees next to the physical page.
#[test]
fn document_text_and_citations_carry_printed_page_labels() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pdf = common::write(
        dir.path(),
        "book.pdf",
        &common::labelled_pdf_bytes(
            &[
                &["The preface tells how this book about pumps came to be written."],
                &["The contents list every chapter and the people the author thanks."],
                &["Chapter one explains how the zorblax valve keeps the pressure steady."],
                &["Chapter two covers the repairs an owner can make at home."],
            ],
            2,
        ),
    );
    let notes = common::write(dir.path(), "notes.md", b"# Notes\n\nNo pages here, only a note on valves.\n");
    let mut library = Library::open(&dir.path().join("library.sqlite")).expect("open");
    // Chunks of a page each, so a citation names one page.
    let one_page_chunks = IndexOptions { chunking: ChunkingConfig { max_tokens: 20, overlap_tokens: 0 }, ..IndexOptions::default() };
    add(&mut library, &[pdf.clone(), notes.clone()], &one_page_chunks);

    let text = library.document_text(&pdf.to_string_lossy()).expect("text of the pdf");
    let pages: Vec<(u32, Option<&str>, &str)> = text.pages.iter().map(|page| (page.number, page.label.as_deref(), page.text.as_str())).collect();
    assert_eq!(
        pages,
        vec![
            (1, Some("i"), "The preface tells how this book about pumps came to be written."),
            (2, Some("ii"), "The contents list every chapter and the people the author thanks."),
            (3, Some("1"), "Chapter one explains how the zorblax valve keeps the pressure steady."),
            (4, Some("2"), "Chapter two covers the repairs an owner can make at home."),
        ]
    );
    let notes_text = library.document_text(&notes.to_string_lossy()).expect("text of the notes");
    assert!(notes_text.pages.is_empty() && notes_text.text.contains("only a note on valves"), "{notes_text:?}");
    assert!(matches!(library.document_text("/nowhere.pdf"), Err(DocsError::UnknownDocument(_))));

    let hits = library.search(common::embedder(), "zorblax valve", 1, SearchMode::Bm25).expect("search");
    assert_eq!(hits[0].citation.location.pages().as_deref(), Some("p. 1 (PDF page 3)"), "{:?}", hits[0].citation);
}
