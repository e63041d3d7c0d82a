mod cli;
mod logging;

fn main() {
    // Started as the indexer's document reader, this process reads files and exits here.
    automix::docs::extract::serve_if_asked();
    if let Err(error) = cli::run() {
        eprintln!("error: {error:#}");
        let partly_done = error.downcast_ref::<cli::docs::SomeFilesFailed>().is_some();
        std::process::exit(if partly_done { cli::docs::SomeFilesFailed::EXIT_CODE } else { 1 });
    }
}
