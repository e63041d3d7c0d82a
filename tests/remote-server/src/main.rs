//! Runs the OpenAI-compatible test provider and prints its base URL on the first stdout line.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use automix_test_remote::{default_data_dir, AnswerBook, TestServer};
use clap::Parser;

/// OpenAI-compatible test provider replaying recorded GPT-4 answers, with fault injection.
#[derive(Parser)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Shared data folder (holding qa/ and llm-answers/); defaults to $AUTOMIX_SHARED_DATA or ../shared/data.
    #[arg(long)]
    data: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = args.data.unwrap_or_else(default_data_dir);
    let book = AnswerBook::load(&data).with_context(|| format!("loading recorded answers from {}", data.display()))?;
    let server = TestServer::start(Arc::new(book), args.port).await.context("binding the test server")?;
    println!("{}", server.base_url());
    std::io::stdout().flush()?;
    server.wait_forever().await;
    Ok(())
}
