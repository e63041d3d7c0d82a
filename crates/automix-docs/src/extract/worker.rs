//! Reading documents in a worker process, so that one file cannot take the machine down.
//!
//! PDFium, the DOCX unzipper and the OCR engine all run on bytes nobody vetted. A 400 KB PDF
//! whose one content stream inflates to 210 MB cost 14 GB and 55 s when PDFium read it
//! in-process (docs/ocr.md). Here a worker (the same executable, started with [`WORKER_ARG`])
//! reads each file with an address-space limit and reports every page as it goes; the indexer kills it when
//! it falls silent for too long or when the user cancels. A file over a limit fails alone with its
//! own error, and the next file gets a fresh worker.
//!
//! The protocol is one JSON line per message: the indexer writes a [`Request`] to the worker's
//! stdin; the worker answers with [`Reply::Page`] lines and one [`Reply::Read`] or
//! [`Reply::Failed`], and waits for the next request. Executables that index (the CLI, the app)
//! call [`serve_if_asked`] first thing in `main`; a process that never called it (a test, an
//! example) reads in-process unless [`READER_ENV`] names a worker executable.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{detect_format, extract_with, read_document_bytes, ExtractError, ExtractedDocument, PageProgress, ReadContext};

/// The first argument that turns an executable into a document reader.
pub const WORKER_ARG: &str = "--automix-document-reader";
/// Names an executable to use as the worker (it must call [`serve_if_asked`]), overriding the
/// current executable; tests set it to the crate's `automix-document-reader` binary.
pub const READER_ENV: &str = "AUTOMIX_DOCUMENT_READER";
/// Overrides the worker's address-space limit, in MiB.
pub const READER_MEMORY_ENV: &str = "AUTOMIX_READER_MEMORY_MB";
/// The worker's address-space limit: enough for PDFium on a 200 MB PDF and a 300 dpi page, a
/// quarter of an 8 GB laptop. The OCR engine's child process lives under the same ceiling.
const DEFAULT_MEMORY_LIMIT_MIB: u64 = 2048;
/// The longest a worker may go without a message: one page's OCR limit plus its rendering.
const SILENCE_LIMIT: Duration = Duration::from_secs(super::ocr::OCR_TIME_LIMIT.as_secs() + 60);
/// How often a waiting indexer looks at its cancel flag.
const CANCEL_POLL: Duration = Duration::from_millis(100);
/// The tail of the worker's stderr kept for the error message.
const STDERR_TAIL_BYTES: usize = 4096;

static CAN_SERVE: AtomicBool = AtomicBool::new(false);

/// What the indexer asks the worker to read.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    path: PathBuf,
    max_file_bytes: u64,
    ocr_cache: Option<PathBuf>,
    #[serde(default)]
    ocr_languages: Option<String>,
}

/// What the worker answers.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Page(PageProgress),
    Read(ExtractedDocument),
    Failed { code: String, message: String },
}

/// Serves read requests on stdin and exits when this process was started as a worker; otherwise
/// returns at once, and remembers that this executable can serve, so the indexer may start it.
pub fn serve_if_asked() {
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(WORKER_ARG)) {
        std::process::exit(serve());
    }
    CAN_SERVE.store(true, Ordering::Relaxed);
}

fn serve() -> i32 {
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout();
    for line in stdin.lines() {
        let Ok(line) = line else { return 0 };
        let request: Request = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("automix document reader: bad request: {error}");
                return 2;
            }
        };
        let send = |reply: &Reply| {
            let mut out = stdout.lock();
            // The indexer gone is the end of the work: nothing to report it to.
            let written = serde_json::to_writer(&mut out, reply).is_ok() && out.write_all(b"\n").is_ok() && out.flush().is_ok();
            if !written {
                std::process::exit(0);
            }
        };
        let options =
            ReadOptions { max_file_bytes: request.max_file_bytes, ocr_cache: request.ocr_cache.as_deref(), ocr_languages: request.ocr_languages.as_deref() };
        let reply = match read_here(&request.path, &options, &mut |page| send(&Reply::Page(page))) {
            Ok(document) => Reply::Read(document),
            Err(error) => Reply::Failed { code: error.code().to_string(), message: error.to_string() },
        };
        send(&reply);
    }
    0
}

/// How one file is read.
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions<'a> {
    /// Larger files are refused.
    pub max_file_bytes: u64,
    /// Where OCR'd pages are kept as they are read, and taken from, so a read that was
    /// cancelled or killed resumes at its first unread page.
    pub ocr_cache: Option<&'a Path>,
    /// The languages OCR reads (`eng+rus`); None for the default.
    pub ocr_languages: Option<&'a str>,
}

/// Reads a file in this process.
fn read_here(path: &Path, options: &ReadOptions<'_>, on_page: &mut dyn FnMut(PageProgress)) -> Result<ExtractedDocument, ExtractError> {
    let bytes = read_document_bytes(path, options.max_file_bytes)?;
    let format = detect_format(path, &bytes);
    extract_with(path, &bytes, format, &mut ReadContext { on_page, ocr_cache: options.ocr_cache, ocr_languages: options.ocr_languages })
}

/// Reads documents for the indexer: in a worker process where one can be started, in this
/// process otherwise. One reader serves a whole batch; a worker that failed is replaced.
pub struct DocumentReader {
    executable: Option<PathBuf>,
    memory_limit_mib: u64,
    worker: Option<Worker>,
}

impl Default for DocumentReader {
    fn default() -> Self {
        Self::new()
    }
}

impl DocumentReader {
    /// A worker from [`READER_ENV`], else this executable when it called [`serve_if_asked`],
    /// else in-process reading.
    pub fn new() -> Self {
        let executable = match std::env::var_os(READER_ENV).filter(|value| !value.is_empty()) {
            Some(path) => Some(PathBuf::from(path)),
            None if CAN_SERVE.load(Ordering::Relaxed) => std::env::current_exe().ok(),
            None => None,
        };
        DocumentReader { executable, memory_limit_mib: memory_limit_mib(), worker: None }
    }

    /// A reader whose worker is `executable` (one that calls [`serve_if_asked`]).
    pub fn with_worker(executable: impl Into<PathBuf>) -> Self {
        DocumentReader { executable: Some(executable.into()), memory_limit_mib: memory_limit_mib(), worker: None }
    }

    /// Whether files are read in a worker process.
    pub fn isolated(&self) -> bool {
        self.executable.is_some()
    }

    /// Reads the file at `path` as `options` say, reporting each page. `Ok(None)` means `cancel`
    /// was set.
    pub fn read(
        &mut self,
        path: &Path,
        options: &ReadOptions<'_>,
        on_page: &mut dyn FnMut(PageProgress),
        cancel: &AtomicBool,
    ) -> Result<Option<ExtractedDocument>, ExtractError> {
        let Some(executable) = self.executable.clone() else {
            return read_here(path, options, on_page).map(Some);
        };
        let worker = match self.worker.take() {
            Some(worker) => worker,
            None => Worker::start(&executable, self.memory_limit_mib).map_err(|reason| ExtractError::ReaderFailed { path: path.to_path_buf(), reason })?,
        };
        let request = Request {
            path: path.to_path_buf(),
            max_file_bytes: options.max_file_bytes,
            ocr_cache: options.ocr_cache.map(Path::to_path_buf),
            ocr_languages: options.ocr_languages.map(str::to_string),
        };
        let (worker, outcome) = worker.read(&request, on_page, cancel, self.memory_limit_mib);
        self.worker = worker;
        outcome
    }
}

fn memory_limit_mib() -> u64 {
    std::env::var(READER_MEMORY_ENV).ok().and_then(|value| value.trim().parse().ok()).filter(|&mib| mib > 0).unwrap_or(DEFAULT_MEMORY_LIMIT_MIB)
}

/// A running worker: its process, its stdin, and the lines it writes.
struct Worker {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<String>,
    stderr_tail: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Worker {
    fn start(executable: &Path, memory_limit_mib: u64) -> Result<Worker, String> {
        let mut command = Command::new(executable);
        command.arg(WORKER_ARG).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // The worker reads on one thread; more malloc arenas would only reserve address space.
        command.env("MALLOC_ARENA_MAX", "1");
        limit_address_space(&mut command, memory_limit_mib << 20);
        let mut child = command.spawn().map_err(|error| format!("the document reader {} cannot be started: {error}", executable.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr_tail = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let tail = stderr_tail.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stderr.read(&mut buffer) {
                if read == 0 {
                    break;
                }
                let mut tail = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                tail.extend_from_slice(&buffer[..read]);
                let excess = tail.len().saturating_sub(STDERR_TAIL_BYTES);
                tail.drain(..excess);
            }
        });
        Ok(Worker { child, stdin, replies, stderr_tail })
    }

    /// Sends one request and waits for its answer. Gives the worker back when it can take the
    /// next file (None when it was killed or died).
    #[allow(clippy::type_complexity)]
    fn read(
        mut self,
        request: &Request,
        on_page: &mut dyn FnMut(PageProgress),
        cancel: &AtomicBool,
        memory_limit_mib: u64,
    ) -> (Option<Worker>, Result<Option<ExtractedDocument>, ExtractError>) {
        let path = request.path.clone();
        let line = serde_json::to_string(request).expect("a request serialises");
        if writeln!(self.stdin, "{line}").and_then(|()| self.stdin.flush()).is_err() {
            let outcome = self.died(&path, memory_limit_mib);
            return (None, Err(outcome));
        }
        let mut last_message = Instant::now();
        loop {
            if cancel.load(Ordering::Relaxed) {
                self.kill();
                return (None, Ok(None));
            }
            match self.replies.recv_timeout(CANCEL_POLL) {
                Ok(line) => {
                    last_message = Instant::now();
                    match serde_json::from_str::<Reply>(&line) {
                        Ok(Reply::Page(page)) => on_page(page),
                        Ok(Reply::Read(document)) => return (Some(self), Ok(Some(document))),
                        Ok(Reply::Failed { code, message }) => {
                            return (Some(self), Err(ExtractError::Reported { path, code: ExtractError::known_code(&code), message }))
                        }
                        Err(error) => {
                            self.kill();
                            return (None, Err(ExtractError::ReaderFailed { path, reason: format!("it answered something unreadable ({error})") }));
                        }
                    }
                }
                // At its ceiling PDFium's failed allocations can leave the worker waiting on
                // itself (a lock in the bindings' error path): a worker that fills its memory is
                // stopped at once instead of after the silence limit.
                Err(RecvTimeoutError::Timeout) if resident_bytes(self.child.id()).is_some_and(|bytes| bytes >= (memory_limit_mib << 20) / 10 * 9) => {
                    self.kill();
                    return (None, Err(ExtractError::ReaderOutOfMemory { path, limit_mib: memory_limit_mib }));
                }
                Err(RecvTimeoutError::Timeout) if last_message.elapsed() > SILENCE_LIMIT => {
                    self.kill();
                    return (None, Err(ExtractError::ReaderTimedOut { path, seconds: SILENCE_LIMIT.as_secs() }));
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let error = self.died(&path, memory_limit_mib);
                    return (None, Err(error));
                }
            }
        }
    }

    /// The error for a worker that stopped answering on its own: over its memory limit (the
    /// allocator's last words say so), or crashed.
    fn died(mut self, path: &Path, memory_limit_mib: u64) -> ExtractError {
        let status = self.child.wait().map(|status| status.to_string()).unwrap_or_else(|error| error.to_string());
        // The stderr reader may still be draining the last words.
        std::thread::sleep(Duration::from_millis(50));
        let tail = String::from_utf8_lossy(&self.stderr_tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner())).into_owned();
        let lowered = tail.to_lowercase();
        if ["memory", "bad_alloc", "cannot allocate", "oom"].iter().any(|sign| lowered.contains(sign)) {
            return ExtractError::ReaderOutOfMemory { path: path.to_path_buf(), limit_mib: memory_limit_mib };
        }
        let last = tail.lines().rfind(|line| !line.trim().is_empty()).unwrap_or("no message").trim().to_string();
        ExtractError::ReaderFailed { path: path.to_path_buf(), reason: format!("it stopped ({status}): {last}") }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing stdin ends a waiting worker; one still reading is killed.
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

/// The resident memory of process `pid` (Linux; None elsewhere or when it is gone).
fn resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Caps the address space of the process `command` starts (the document reader, and the OCR
/// and HEIC programs it runs), and keeps this process's other descriptors out of it.
#[cfg(unix)]
pub(super) fn limit_address_space(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and close_range are system calls, async-signal-safe; nothing else runs
    // between fork and exec here.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes as libc::rlim_t, rlim_max: bytes as libc::rlim_t };
            libc::setrlimit(libc::RLIMIT_AS, &limit);
            // The app's other descriptors (the display connection, the webview's sockets) must
            // not live on in the worker: a peer waiting for their end would wait for the worker.
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            libc::close_range(3, libc::c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC as libc::c_int);
            Ok(())
        });
    }
}

#[cfg(not(unix))]
pub(super) fn limit_address_space(_command: &mut Command, _bytes: u64) {}
