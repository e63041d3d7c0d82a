//! What the local API adds to a question: the same question asked `ROUNDS` times straight through
//! `Assistant::ask_with` and through the server (`automix-local`, so no remote model's time is in
//! it), alternating, on the models installed in `$AUTOMIX_HOME`. Prints the medians of the whole
//! answer and of the first token (direct: the engine's first `LocalToken`; through the server: the
//! first content delta a streaming client reads), and their differences: the server's overhead. As
//! the medians of two runs differ by the answers' own noise, each served request's client time is
//! also paired with the engine's time for it as History recorded it (whole milliseconds).
//!
//!     cargo run --release -p automix-serve --example overhead [ROUNDS]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use automix::assistant::{AskEvent, AskOptions, Assistant, AssistantPaths, Scope};
use automix::settings::Settings;
use automix_serve::{ServeConfig, Server};

const CONTEXT: &str = "The Brindlewood museum opens at 9 am and closes at 5 pm on weekdays. Entry costs 12 euros.";
const QUESTION: &str = "When does the Brindlewood museum open?";

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|n| n.parse()).transpose()?.unwrap_or(20);
    let home = automix::models::automix_home();
    let settings = Settings::load(&home)?;
    let assistant = Arc::new(Assistant::open_from_settings(&AssistantPaths::from_home(&home), &settings)?);
    let server = Server::start(assistant.clone(), ServeConfig::new(0, false, "amx-overhead-bench".into()))?;
    let url = format!("{}/chat/completions", server.base_url());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let http = reqwest::Client::new();
    let body = |stream: bool| {
        serde_json::json!({ "model": "automix-local", "stream": stream, "user": "overhead-bench",
            "messages": [{ "role": "system", "content": CONTEXT }, { "role": "user", "content": QUESTION }] })
    };
    let scope = Scope::Text { source: "the request".into(), text: CONTEXT.into() };
    let (mut direct, mut direct_first, mut served, mut served_first, mut paired) = (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // One of each first, not counted: the caches and the connection warm up.
    for round in 0..=rounds {
        let started = Instant::now();
        let mut first = None;
        let conversation = assistant.new_conversation_from(QUESTION, Some("overhead-bench"))?;
        assistant.ask_with(
            QUESTION,
            &scope,
            conversation,
            AskOptions { local_only: true },
            &mut |event| {
                if matches!(event, AskEvent::LocalToken { .. }) && first.is_none() {
                    first = Some(started.elapsed().as_secs_f64() * 1e3);
                }
            },
            &Arc::new(AtomicBool::new(false)),
        )?;
        let whole = started.elapsed().as_secs_f64() * 1e3;

        let started = Instant::now();
        let response = runtime.block_on(http.post(&url).bearer_auth("amx-overhead-bench").json(&body(false)).send())?;
        anyhow::ensure!(response.status() == 200, "the server answered {}", response.status());
        let question_id: i64 = response.headers()["x-automix-question-id"].to_str()?.parse()?;
        runtime.block_on(response.bytes())?;
        let served_whole = started.elapsed().as_secs_f64() * 1e3;
        // Paired: this request's time at the client less the engine's own time for it (History).
        let engine_ms = assistant.history().question(question_id)?.record.total_latency_ms as f64;

        let started = Instant::now();
        let mut response = runtime.block_on(http.post(&url).bearer_auth("amx-overhead-bench").json(&body(true)).send())?;
        let mut served_first_ms = None;
        while let Some(chunk) = runtime.block_on(response.chunk())? {
            if served_first_ms.is_none()
                && String::from_utf8_lossy(&chunk).contains("\"content\":\"")
                && !String::from_utf8_lossy(&chunk).contains("\"content\":\"\"")
            {
                served_first_ms = Some(started.elapsed().as_secs_f64() * 1e3);
            }
        }
        if round > 0 {
            direct.push(whole);
            direct_first.push(first.unwrap_or(whole));
            served.push(served_whole);
            served_first.push(served_first_ms.unwrap_or(f64::NAN));
            paired.push(served_whole - engine_ms);
        }
    }
    let (d, s, df, sf) = (median(&mut direct), median(&mut served), median(&mut direct_first), median(&mut served_first));
    println!("{rounds} rounds of the same question, automix-local, model {}", assistant.model()?.name());
    println!("whole answer:  Assistant::ask_with median {d:.1} ms, through the server {s:.1} ms: overhead {:.1} ms", s - d);
    println!("paired:        each request's time at the client less the engine's recorded time for it: median {:.1} ms", median(&mut paired));
    println!("first token:   engine {df:.1} ms, first streamed delta {sf:.1} ms: {:.1} ms later", sf - df);
    Ok(())
}
