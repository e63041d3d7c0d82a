//! The document reader alone: the worker process the indexer starts (see
//! `automix_docs::extract::worker`). The CLI and the app serve as their own readers; this binary
//! lets the crate's tests, and a library user without either, read documents in a worker too.

fn main() {
    automix_docs::extract::serve_if_asked();
    eprintln!("this program reads documents for AutoMix's indexer, which starts it with {}", automix_docs::extract::worker::WORKER_ARG);
    std::process::exit(2);
}
