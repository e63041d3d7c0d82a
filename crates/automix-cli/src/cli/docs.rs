use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use std::time::Duration;

use anyhow::{bail, Context, Result};
use automix::docs::{DocumentText, Embedder, FileOutcome, FileReport, FolderWatcher, IndexOptions, IndexProgress, Library, SearchMode, DEFAULT_MAX_FILE_BYTES};
use automix_llm::LocalModel;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum DocsCommand {
    /// Index files or folders (PDF, DOCX, Markdown, HTML, text; scans and photos of pages as PNG, JPEG, TIFF or PNM, read by OCR); unchanged files are skipped.
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Files larger than this many bytes are refused.
        #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
        max_size: u64,
    },
    /// The indexed documents and the library's folders.
    List,
    /// Print the text the library holds for a document (by id or path), page by page with each
    /// page's number and printed label: what was read from it.
    Text { id_or_path: String },
    /// Remove a document by id or path, or a folder with all its documents.
    Remove { id_or_path: String },
    /// Render one page of a PDF as a greyscale image (PGM), as a scanner would have made it: a
    /// scan whose true text is known, for checking OCR.
    Rasterise {
        pdf: PathBuf,
        /// The page, from 1.
        #[arg(long, default_value_t = 1)]
        page: u16,
        #[arg(long, default_value_t = 150.0)]
        dpi: f32,
        out: PathBuf,
    },
    /// Mark a document (by id or path) or a library folder "never leaves this device": its
    /// passages are never sent to a remote model, nor are earlier turns that read them.
    Private {
        id_or_path: String,
        /// Lift the mark instead (a document inside a private folder stays private).
        #[arg(long)]
        off: bool,
    },
    /// Rescan the library's folders: add new files, re-index changed ones, drop deleted ones.
    Sync {
        /// Files larger than this many bytes are refused.
        #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
        max_size: u64,
    },
    /// Sync, then keep the library in sync with its folders as files change (Ctrl-C stops).
    Watch {
        /// Files larger than this many bytes are refused.
        #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
        max_size: u64,
        /// Seconds without further changes before a batch of changes is indexed.
        #[arg(long, default_value_t = 1.0)]
        settle: f64,
    },
}

fn open_library() -> Result<Library> {
    Ok(Library::open(&Library::default_path())?)
}

/// The settings' indexing options (OCR languages).
fn settings_index_options() -> Result<IndexOptions> {
    Ok(automix::settings::Settings::load(&automix::models::automix_home())?.index_options())
}

fn load_embedder() -> Result<Embedder> {
    let catalog = automix::models::Catalog::bundled();
    let store = automix::models::ModelStore::from_env();
    let entry = catalog.default_for(automix::models::ModelKind::Embedding);
    store.locate(entry)?;
    Ok(Embedder::load(&store.model_dir(entry), &candle_core::Device::Cpu)?)
}

pub fn run(command: DocsCommand) -> Result<()> {
    let mut library = open_library()?;
    match command {
        DocsCommand::Add { paths, max_size } => {
            let embedder = load_embedder()?;
            let options = IndexOptions { max_file_bytes: max_size, ..settings_index_options()? };
            let reports = with_progress_bar(|progress| library.add_paths(&embedder, &paths, &options, progress, &AtomicBool::new(false)))?;
            fail_on_failed_files(print_reports(&reports, true))?;
        }
        DocsCommand::Sync { max_size } => {
            let embedder = load_embedder()?;
            let options = IndexOptions { max_file_bytes: max_size, ..settings_index_options()? };
            let reports = with_progress_bar(|progress| library.sync(&embedder, &options, progress, &AtomicBool::new(false)))?;
            fail_on_failed_files(print_reports(&reports, false))?;
        }
        DocsCommand::Watch { max_size, settle } => {
            let (folders, missing): (Vec<PathBuf>, Vec<PathBuf>) = library.folders()?.into_iter().partition(|folder| folder.is_dir());
            for folder in &missing {
                eprintln!("not watching {}: the folder is missing", folder.display());
            }
            if folders.is_empty() {
                bail!("the library has no folders to watch; add one with `automix docs add FOLDER`");
            }
            let embedder = load_embedder()?;
            let options = IndexOptions { max_file_bytes: max_size, ..settings_index_options()? };
            let never = AtomicBool::new(false);
            let settle = Duration::try_from_secs_f64(settle.clamp(0.05, 3600.0)).unwrap_or(Duration::from_secs(1));
            let watcher = FolderWatcher::new(&folders)?;
            let sync = |library: &mut Library| match library.sync(&embedder, &options, &mut |_| {}, &never) {
                Ok(reports) => match print_reports(&reports, false) {
                    0 => {}
                    failed => eprintln!("{failed} file(s) could not be indexed; the others were"),
                },
                // A failed sync (the disk full, say) is reported; the next change tries again.
                Err(error) => eprintln!("sync failed: {error}"),
            };
            sync(&mut library);
            println!("watching {} folder(s) for changes; Ctrl-C stops", folders.len());
            while watcher.next_changes(settle, &never).is_some() {
                sync(&mut library);
            }
        }
        DocsCommand::Rasterise { pdf, page, dpi, out } => {
            let bytes = std::fs::read(&pdf).with_context(|| format!("cannot read {}", pdf.display()))?;
            let image =
                automix_docs::extract::rasterise_page(&bytes, page.saturating_sub(1), dpi).map_err(|reason| anyhow::anyhow!("{}: {reason}", pdf.display()))?;
            std::fs::write(&out, image.to_pgm()).with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}: page {page} at {dpi} dpi, {}×{} pixels", out.display(), image.width, image.height);
        }
        DocsCommand::List => {
            for doc in library.documents()? {
                let private = match &doc.private_folder {
                    Some(folder) => format!(", private: in {folder}"),
                    None if doc.private => ", private".to_string(),
                    None => String::new(),
                };
                println!("{:>4}  {}  ({} chunks{private})", doc.id, doc.path, doc.chunk_count);
            }
            for folder in library.folder_list()? {
                println!("folder  {}{}", folder.path, if folder.private { "  (private)" } else { "" });
            }
        }
        DocsCommand::Private { id_or_path, off } => {
            let state = if off { "may be sent to a remote model again" } else { "never leaves this device" };
            if library.set_folder_private(std::path::Path::new(&id_or_path), !off)? {
                println!("the folder {id_or_path} {state}");
            } else {
                let document = library.set_document_private(&id_or_path, !off)?;
                match &document.private_folder {
                    Some(folder) if off => println!("{} stays private: its folder {folder} is private", document.path),
                    _ => println!("{} {state}", document.path),
                }
            }
        }
        DocsCommand::Text { id_or_path } => print_document_text(&library.document_text(&id_or_path)?),
        DocsCommand::Remove { id_or_path } => {
            if library.remove_folder(std::path::Path::new(&id_or_path))? {
                println!("removed the folder {id_or_path} and its documents");
            } else {
                let removed = library.remove(&id_or_path)?;
                println!("removed {}", removed.path);
            }
        }
    }
    Ok(())
}

fn print_document_text(text: &DocumentText) {
    println!("{} ({}, {})", text.document.title, text.document.format, text.document.path);
    if text.pages.is_empty() {
        println!("\n{}", text.text);
    }
    for page in &text.pages {
        let ocr = page.ocr_confidence.map(|confidence| format!(", read by OCR, {confidence:.0}% sure")).unwrap_or_default();
        match &page.label {
            Some(label) => println!("\n--- page {} (printed page {label}{ocr}) ---", page.number),
            None if ocr.is_empty() => println!("\n--- page {} ---", page.number),
            None => println!("\n--- page {} ({}) ---", page.number, ocr.trim_start_matches(", ")),
        }
        println!("{}", page.text);
    }
}

fn with_progress_bar<T>(run: impl FnOnce(&mut dyn FnMut(&IndexProgress)) -> T) -> T {
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg}").expect("valid template"));
    let result = run(&mut |progress: &IndexProgress| {
        bar.set_length(progress.files_total as u64);
        bar.set_position(progress.files_done as u64);
        let pages = match progress.pages {
            Some(pages) if pages.ocr > 0 => format!(", page {} of {} ({} by OCR)", pages.done, pages.total, pages.ocr),
            Some(pages) => format!(", page {} of {}", pages.done, pages.total),
            None => String::new(),
        };
        bar.set_message(format!("{} chunks{pages}", progress.chunks_indexed));
    });
    bar.finish_and_clear();
    result
}

/// `automix docs add` and `sync` when some files could not be indexed (the others were): the
/// process exits with [`SomeFilesFailed::EXIT_CODE`], so a script can tell.
#[derive(Debug)]
pub struct SomeFilesFailed {
    pub failed: usize,
}

impl SomeFilesFailed {
    /// 1 is any other error, where nothing was done.
    pub const EXIT_CODE: i32 = 3;
}

impl std::fmt::Display for SomeFilesFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} file(s) could not be indexed; the others were (see the FAILED lines above)", self.failed)
    }
}

impl std::error::Error for SomeFilesFailed {}

fn fail_on_failed_files(failed: usize) -> Result<()> {
    match failed {
        0 => Ok(()),
        failed => Err(SomeFilesFailed { failed }.into()),
    }
}

/// One line per file; unchanged files only when `show_unchanged`. Returns how many failed.
fn print_reports(reports: &[FileReport], show_unchanged: bool) -> usize {
    let mut failed = 0;
    for report in reports {
        let status = match &report.outcome {
            FileOutcome::Added { chunks, .. } => format!("added, {chunks} chunks"),
            FileOutcome::Updated { chunks, .. } => format!("re-indexed, {chunks} chunks"),
            FileOutcome::Unchanged { .. } if !show_unchanged => continue,
            FileOutcome::Unchanged { .. } => "unchanged".to_string(),
            FileOutcome::Removed { .. } => "removed (the file is gone)".to_string(),
            FileOutcome::Failed { error } => {
                failed += 1;
                format!("FAILED: {error}")
            }
        };
        println!("{}: {status}", report.path.display());
    }
    failed
}

/// `automix search`: ranked chunks with citations, or exactly what an N-token context would hold.
pub fn search(query: &str, limit: usize, budget_tokens: Option<usize>, json: bool) -> Result<()> {
    let mut library = open_library()?;
    let embedder = load_embedder()?;
    let hits = match budget_tokens {
        Some(budget) => {
            let model = LocalModel::load(&super::chat_model_path(None)?, &candle_core::Device::Cpu)?;
            library.retrieve(&embedder, query, budget, &model)?
        }
        None => library.search(&embedder, query, limit, SearchMode::Hybrid)?,
    };
    if json {
        println!("{}", serde_json::to_string(&hits)?);
        return Ok(());
    }
    for (rank, hit) in hits.iter().enumerate() {
        println!("{:>2}. score {:.4}  {}", rank + 1, hit.score, hit.citation);
        if budget_tokens.is_some() {
            println!("{}\n", hit.text);
        } else {
            println!("    {}", hit.citation.snippet);
        }
    }
    Ok(())
}
