//! The local OpenAI-compatible API: editors, note apps and scripts on the laptop point an OpenAI
//! client at it and get the app's engine path (answer locally, verify, route, escalate within the
//! budget, record in History) under three model names (see [`protocol::MODEL_IDS`]).
//!
//! `automix serve` runs it from the command line; the desktop app runs it while its Settings
//! switch is on. Both hand the server their engine and stop it by dropping the [`Server`].

mod admission;
mod error;
mod handlers;
pub mod protocol;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;

use automix::assistant::Assistant;
use automix::remote::{ApiKey, CancelFlag, KeyStore};
use automix::settings::LocalApiSettings;
use tokio::sync::oneshot;

pub use error::{ApiError, ServeError};

/// The engine a server answers with, shared with the front end that started it.
pub type Engine = Arc<Assistant>;

/// Requests waiting behind the one the local model is answering; more get HTTP 429.
pub const DEFAULT_QUEUE_LIMIT: usize = 4;
/// The largest request body read (a long document pasted as a system message fits well within).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Listen on every interface instead of loopback only.
    pub allow_network: bool,
    /// The bearer token every request must carry.
    pub token: String,
    pub queue_limit: usize,
    pub max_body_bytes: usize,
}

impl ServeConfig {
    pub fn new(port: u16, allow_network: bool, token: String) -> Self {
        ServeConfig { port, allow_network, token, queue_limit: DEFAULT_QUEUE_LIMIT, max_body_bytes: DEFAULT_MAX_BODY_BYTES }
    }

    pub fn from_settings(settings: &LocalApiSettings, token: String) -> Self {
        Self::new(settings.port, settings.allow_network, token)
    }
}

/// A fresh access token: 192 random bits, prefixed so it is recognisable in a config file.
pub fn new_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::rng().random();
    format!("amx-{}", bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>())
}

/// The stored access token, made and stored first when there is none (so the app and `automix
/// serve` share one token and a client configured once keeps working). Says whether it is new.
pub fn stored_token(store: &KeyStore) -> Result<(String, bool), ServeError> {
    if let Some((token, _)) = store.load()? {
        return Ok((token.expose().to_string(), false));
    }
    let token = new_token();
    store.save(&ApiKey::new(token.clone()))?;
    Ok((token, true))
}

/// The questions in flight, so stopping the server stops them.
#[derive(Default)]
pub(crate) struct InFlight(Mutex<Vec<Weak<std::sync::atomic::AtomicBool>>>);

impl InFlight {
    pub(crate) fn add(&self, cancel: &CancelFlag) {
        let mut flags = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        flags.retain(|flag| flag.strong_count() > 0);
        flags.push(Arc::downgrade(cancel));
    }

    fn cancel_all(&self) {
        let flags = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for flag in flags.iter().filter_map(Weak::upgrade) {
            flag.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// A running server; dropping it stops it (questions in flight are cancelled and record nothing).
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    in_flight: Arc<InFlight>,
    /// Held here so the engine is never dropped on the server's runtime (dropping the remote
    /// client's own runtime there would panic): it goes with the `Server`, on the caller's thread.
    _engine: Engine,
}

impl Server {
    /// Binds the port now (so a taken port is reported at once) and serves on a thread of its own.
    pub fn start(engine: Engine, config: ServeConfig) -> Result<Server, ServeError> {
        let ip = if config.allow_network { Ipv4Addr::UNSPECIFIED } else { Ipv4Addr::LOCALHOST };
        let wanted = SocketAddr::from((ip, config.port));
        let listener = std::net::TcpListener::bind(wanted).map_err(|source| match source.kind() {
            std::io::ErrorKind::AddrInUse => ServeError::PortInUse { addr: wanted },
            _ => ServeError::Bind { addr: wanted, source },
        })?;
        listener.set_nonblocking(true).map_err(|source| ServeError::Bind { addr: wanted, source })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Bind { addr: wanted, source })?;
        // Two workers: the model answers on a blocking thread; these only parse and stream.
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("automix-serve").enable_all().build().map_err(ServeError::Runtime)?;
        let in_flight = Arc::new(InFlight::default());
        let app = handlers::router(engine.clone(), &config, in_flight.clone());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("automix-serve".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => listener,
                        Err(error) => return tracing::error!("the local API cannot listen: {error}"),
                    };
                    // Without TCP_NODELAY each streamed delta after the first waits for the
                    // client's delayed ACK (about 40 ms).
                    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
                        let _ = stream.set_nodelay(true);
                    });
                    let serving = axum::serve(listener, app).with_graceful_shutdown(async {
                        let _ = stopped.await;
                    });
                    if let Err(error) = serving.await {
                        tracing::error!("the local API stopped: {error}");
                    }
                });
                // Streams still open after the shutdown signal are dropped with the runtime.
                runtime.shutdown_timeout(std::time::Duration::from_secs(2));
            })
            .map_err(ServeError::Runtime)?;
        tracing::info!(%addr, "the local API is listening");
        Ok(Server { addr, shutdown: Some(shutdown), thread: Some(thread), in_flight, _engine: engine })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL an OpenAI client takes (`…/v1`), on loopback.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.addr.port())
    }

    /// Stops accepting, cancels the questions in flight and waits for the server's thread.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        self.in_flight.cancel_all();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            tracing::info!(addr = %self.addr, "the local API stopped");
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_now();
    }
}
