use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use anyhow::Result;
use automix::assistant::ModelTokens;
use automix::docs::{Embedder, FileOutcome, IndexOptions, Library, SearchMode, DEFAULT_MAX_FILE_BYTES};
use automix_llm::LocalModel;
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Subcommand)]
pub enum DocsCommand {
    /// Index files or folders (PDF, DOCX, Markdown, HTML, text); unchanged files are skipped.
    Add {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Files larger than this many bytes are refused.
        #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
        max_size: u64,
    },
    /// The indexed documents.
    List,
    /// Remove a document by id or path.
    Remove { id_or_path: String },
}

fn open_library() -> Result<Library> {
    Ok(Library::open(&Library::default_path())?)
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
            let bar = ProgressBar::new(0);
            bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} files, {msg}").expect("valid template"));
            let options = IndexOptions { max_file_bytes: max_size, ..Default::default() };
            let reports = library.add_paths(&embedder, &paths, &options, &mut |p| {
                bar.set_length(p.files_total as u64);
                bar.set_position(p.files_done as u64);
                bar.set_message(format!("{} chunks", p.chunks_indexed));
            }, &AtomicBool::new(false))?;
            bar.finish_and_clear();
            let mut failed = 0;
            for report in reports {
                let status = match report.outcome {
                    FileOutcome::Added { chunks, .. } => format!("added, {chunks} chunks"),
                    FileOutcome::Updated { chunks, .. } => format!("re-indexed, {chunks} chunks"),
                    FileOutcome::Unchanged { .. } => "unchanged".to_string(),
                    FileOutcome::Failed { error } => {
                        failed += 1;
                        format!("FAILED: {error}")
                    }
                };
                println!("{}: {status}", report.path.display());
            }
            if failed > 0 {
                eprintln!("{failed} file(s) could not be indexed; the others were");
            }
        }
        DocsCommand::List => {
            for doc in library.documents()? {
                println!("{:>4}  {}  ({} chunks)", doc.id, doc.path, doc.chunk_count);
            }
        }
        DocsCommand::Remove { id_or_path } => {
            let removed = library.remove(&id_or_path)?;
            println!("removed {}", removed.path);
        }
    }
    Ok(())
}

/// `automix search`: ranked chunks with citations, or exactly what an N-token context would hold.
pub fn search(query: &str, limit: usize, budget_tokens: Option<usize>) -> Result<()> {
    let mut library = open_library()?;
    let embedder = load_embedder()?;
    let hits = match budget_tokens {
        Some(budget) => {
            let model = LocalModel::load(&super::chat_model_path(None)?, &candle_core::Device::Cpu)?;
            library.retrieve(&embedder, query, budget, &ModelTokens(&model))?
        }
        None => library.search(&embedder, query, limit, SearchMode::Hybrid)?,
    };
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
