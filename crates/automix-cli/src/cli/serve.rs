//! `automix serve`: the local OpenAI-compatible API until Ctrl-C.

use std::sync::Arc;

use anyhow::Result;
use automix::assistant::{Assistant, AssistantPaths};
use automix::settings::Settings;
use automix_serve::{protocol::MODEL_IDS, ServeConfig, Server};
use clap::Args;

#[derive(Args)]
pub struct ServeArgs {
    /// The port [default: the settings' `local_api.port`, 11435 unless changed]
    #[arg(long)]
    port: Option<u16>,
    /// The access token clients must send (`Authorization: Bearer TOKEN`) [default: the stored
    /// one, made and stored in the OS keychain the first time]
    #[arg(long)]
    token: Option<String>,
    /// Listen on every network interface instead of this computer only
    #[arg(long)]
    allow_network: bool,
    /// Requests that may wait behind the one being answered; more get HTTP 429
    #[arg(long, default_value_t = automix_serve::DEFAULT_QUEUE_LIMIT)]
    queue: usize,
    #[command(flatten)]
    device: super::DeviceArg,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let home = automix::models::automix_home();
    let mut settings = Settings::load(&home)?;
    settings.device = args.device.or_settings(&settings);
    let paths = AssistantPaths::from_home(&home);
    let (token, made) = match args.token {
        Some(token) if token.trim().len() >= 8 => (token.trim().to_string(), false),
        Some(_) => anyhow::bail!("--token must be at least 8 characters"),
        None => automix_serve::stored_token(&paths.local_api_token_store())?,
    };
    eprintln!("loading the local model …");
    let assistant = Assistant::open_from_settings(&paths, &settings)?;
    let mut config = ServeConfig::new(args.port.unwrap_or(settings.local_api.port), args.allow_network || settings.local_api.allow_network, token.clone());
    config.queue_limit = args.queue;
    let server = Server::start(Arc::new(assistant), config)?;
    let shown = if server.addr().ip().is_unspecified() { format!("{} (every network interface)", server.addr()) } else { server.addr().to_string() };
    println!("AutoMix's local API is listening on {shown}");
    println!("base URL:     {}", server.base_url());
    println!("models:       {}", MODEL_IDS.join(", "));
    println!("access token: {token}{}", if made { " (new; stored in the OS keychain, and shown in the app's Settings → Local API)" } else { "" });
    println!("Ctrl-C stops it.");
    let stop = super::cancel_on_ctrl_c();
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprintln!("stopping …");
    server.stop();
    Ok(())
}
