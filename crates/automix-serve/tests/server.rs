//! The local API end to end: real HTTP from a real client library (reqwest) to the server, the
//! real models answering, the test provider as the remote model; what the responses say is checked
//! against what History and the ledger recorded.

#[path = "../../automix/tests/common/mod.rs"]
mod common;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use automix::assistant::Assistant;
use automix::docs::IndexOptions;
use automix_serve::{ServeConfig, Server};
use automix_test_remote::{default_data_dir, AnswerBook, TestServer};
use serde_json::{json, Value};

const TOKEN: &str = "amx-test-token-0123456789";
const MUSEUM: &str = "The Brindlewood museum opens at 9 am and closes at 5 pm on weekdays. Entry costs 12 euros.";

/// Dropped in field order: the server first, the folder last.
struct Setup {
    server: Server,
    assistant: Arc<Assistant>,
    http: reqwest::Client,
    _remote: TestServer,
    dir: tempfile::TempDir,
}

impl Setup {
    fn start(queue_limit: usize, budget: f64) -> Setup {
        let remote = TestServer::start_blocking(Arc::new(AnswerBook::load(&default_data_dir()).unwrap())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let assistant = Arc::new(common::open_assistant(&dir, &remote));
        common::set_budget(&assistant, budget);
        let mut config = ServeConfig::new(0, false, TOKEN.into());
        config.queue_limit = queue_limit;
        let server = Server::start(assistant.clone(), config).unwrap();
        Setup { server, assistant, http: reqwest::Client::new(), _remote: remote, dir }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn post(&self, body: Value) -> reqwest::Response {
        self.http.post(self.url("/chat/completions")).bearer_auth(TOKEN).json(&body).send().await.unwrap()
    }

    /// Every question recorded through the API, oldest first.
    fn api_answers(&self) -> Vec<automix::assistant::AnswerView> {
        let mut answers: Vec<_> = self.assistant.history_page(false, "").unwrap().answers.into_iter().filter(|a| a.api_client.is_some()).collect();
        answers.reverse();
        answers
    }
}

fn museum(model: &str, stream: bool) -> Value {
    json!({
        "model": model,
        "stream": stream,
        "stream_options": { "include_usage": true },
        "user": "test-client",
        "messages": [
            { "role": "system", "content": MUSEUM },
            { "role": "user", "content": "When does the Brindlewood museum open?" },
        ],
    })
}

/// Runs a test's client side. The setup (test provider, engine, server) is made and dropped
/// outside it: their own runtimes may not be dropped inside another.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap().block_on(future)
}

/// The `data:` payloads of a server-sent event stream, `[DONE]` included.
async fn sse(response: reqwest::Response) -> Vec<String> {
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.unwrap();
    text.split("\n\n").filter_map(|event| event.strip_prefix("data: ")).map(str::to_string).collect()
}

#[test]
fn the_token_guards_every_route_and_models_lists_the_three() {
    let setup = Setup::start(4, 1.0);
    block_on(async {
        let anonymous = setup.http.get(setup.url("/models")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        assert_eq!(anonymous.json::<Value>().await.unwrap()["error"]["code"], "invalid_api_key");
        let wrong = setup.http.get(setup.url("/models")).bearer_auth("amx-test-token-0123456780").send().await.unwrap();
        assert_eq!(wrong.status(), 401);
        let models: Value = setup.http.get(setup.url("/models")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
        let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["automix", "automix-local", "automix-docs"]);
        assert!(setup.server.addr().ip().is_loopback(), "loopback unless the user opts in");
        assert!(setup.api_answers().is_empty(), "refused requests record nothing");
    });
}

#[test]
fn completions_streamed_or_not_are_openai_shaped_and_recorded_with_their_client() {
    let setup = Setup::start(4, 1.0);
    block_on(async {
        let response = setup.post(museum("automix-local", false)).await;
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        let body: Value = response.json().await.unwrap();
        let content = body["choices"][0]["message"]["content"].as_str().unwrap().to_string();
        assert!(!content.trim().is_empty(), "{body}");
        assert_eq!(body["object"], "chat.completion");
        assert_eq!(body["choices"][0]["finish_reason"], "stop");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 20 && body["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{body}");
        assert_eq!(body["automix"]["decision"], "stay_local", "automix-local never escalates: {body}");
        assert!(body["automix"]["reason"].as_str().unwrap().contains("local model only"), "{body}");
        assert_eq!(headers["x-automix-decision"], "stay_local");
        assert_eq!(headers["x-automix-question-id"].to_str().unwrap(), body["automix"]["question_id"].to_string());
        assert_eq!(body["automix"]["citations"][0]["label"], "the request");

        let events = sse(setup.post(museum("automix-local", true)).await).await;
        assert_eq!(events.last().unwrap(), "[DONE]");
        let chunks: Vec<Value> = events[..events.len() - 1].iter().map(|e| serde_json::from_str(e).unwrap()).collect();
        assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
        assert!(chunks.len() > 4, "automix-local streams token by token: {} chunks", chunks.len());
        let streamed: String = chunks.iter().filter_map(|c| c["choices"][0]["delta"]["content"].as_str()).collect();
        let finish = chunks.iter().find(|c| c["choices"][0]["finish_reason"] == "stop").expect("a finishing chunk");
        let usage = chunks.last().unwrap();
        assert_eq!(usage["choices"], json!([]), "include_usage adds a last chunk with the usage alone");
        assert!(usage["usage"]["total_tokens"].as_u64().unwrap() > 0);

        let recorded = setup.api_answers();
        assert_eq!(recorded.len(), 2, "both requests are in History");
        assert!(recorded.iter().all(|a| a.api_client.as_deref() == Some("test-client")));
        assert_eq!(recorded[0].local_answer.trim(), content.trim());
        assert_eq!(streamed.trim(), recorded[1].local_answer.trim(), "the stream is the recorded answer");
        assert_eq!(finish["automix"]["question_id"].as_i64().unwrap(), recorded[1].id);
        assert!(setup.assistant.history().conversations().unwrap().iter().filter(|c| c.api_client.is_some()).count() == 2);
    });
}

#[test]
fn the_routed_model_escalates_within_the_budget_and_docs_cite_the_library() {
    let setup = Setup::start(4, 1.0);
    block_on(async {
        // With nothing to read, the local model cannot be sure: the router weighs the remote one.
        let question = json!({ "model": "automix", "user": "script", "messages": [{ "role": "user", "content": "Who designed the Eiffel Tower?" }] });
        let response = setup.post(question).await;
        assert_eq!(response.status(), 200);
        let decision = response.headers()["x-automix-decision"].to_str().unwrap().to_string();
        let body: Value = response.json().await.unwrap();
        let recorded = setup.api_answers().pop().unwrap();
        assert_eq!(decision, recorded.decision.as_str());
        assert_eq!(body["automix"]["cost"].as_f64().unwrap(), recorded.cost);
        if decision == "escalate" {
            assert_eq!(body["automix"]["answered_by"], "remote");
            assert_eq!(body["choices"][0]["message"]["content"].as_str().unwrap(), recorded.remote_answer.as_deref().unwrap());
            assert!(recorded.cost > 0.0);
        }
        let status = setup.assistant.ledger().month_status().unwrap();
        assert!(status.settled <= status.limit && status.reserved == automix::remote::Cost::ZERO, "{status:?}");

        // automix-docs answers from the library and cites it.
        let docs = setup.dir.path().join("docs");
        std::fs::create_dir(&docs).unwrap();
        std::fs::write(docs.join("museum.md"), format!("# Museum hours\n\n{MUSEUM}\n")).unwrap();
        setup
            .assistant
            .library()
            .add_paths(&setup.assistant.embedder().unwrap(), &[docs], &IndexOptions::default(), &mut |_| {}, &AtomicBool::new(false))
            .unwrap();
        let body: Value = setup
            .post(json!({ "model": "automix-docs", "messages": [{ "role": "user", "content": "How much does entry to the Brindlewood museum cost?" }] }))
            .await
            .json()
            .await
            .unwrap();
        let label = body["automix"]["citations"][0]["label"].as_str().unwrap_or_default();
        assert!(label.to_lowercase().contains("museum"), "cited from the library: {body}");
    });
}

#[test]
fn bad_requests_get_openai_errors_and_the_server_keeps_answering() {
    let mut setup = Setup::start(4, 1.0);
    block_on(async {
        let long = "word ".repeat(3_000);
        let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
            (setup.http.post(setup.url("/chat/completions")).bearer_auth(TOKEN).body("{not json"), 400, "invalid_json"),
            (
                setup
                    .http
                    .post(setup.url("/chat/completions"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "model": "gpt-9", "messages": [{ "role": "user", "content": "q" }] })),
                404,
                "model_not_found",
            ),
            (setup.http.post(setup.url("/chat/completions")).bearer_auth(TOKEN).json(&json!({ "model": "automix" })), 400, "missing_required_parameter"),
            (
                setup
                    .http
                    .post(setup.url("/chat/completions"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "model": "automix", "messages": [{ "role": "system", "content": long }, { "role": "user", "content": "q" }] })),
                400,
                "context_length_exceeded",
            ),
            (setup.http.post(setup.url("/chat/completions")).bearer_auth(TOKEN).body(vec![b'a'; 2 << 20]), 413, "request_too_large"),
            (setup.http.post(setup.url("/chat/completions")).bearer_auth("wrong-token-value").json(&museum("automix", false)), 401, "invalid_api_key"),
            (setup.http.post(setup.url("/embeddings")).bearer_auth(TOKEN).json(&json!({})), 404, "not_found"),
            (
                setup
                    .http
                    .post(setup.url("/chat/completions"))
                    .bearer_auth(TOKEN)
                    .json(&json!({ "model": "automix-docs", "messages": [{ "role": "user", "content": "q" }] })),
                400,
                "library_empty",
            ),
        ];
        for (request, status, code) in cases {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), status, "{code}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], code, "{body}");
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()) && body["error"]["type"].is_string(), "{body}");
        }
        assert!(setup.api_answers().is_empty(), "no refused request is recorded");
        assert!(setup.assistant.history().conversations().unwrap().is_empty(), "nor leaves an empty conversation");
        assert_eq!(setup.post(museum("automix-local", false)).await.status(), 200, "the server still answers");

        // Stopping with a request in flight: the request is cancelled and nothing half-done is kept.
        let slow = setup.http.post(setup.url("/chat/completions")).bearer_auth(TOKEN).json(&museum("automix-local", true)).send();
        let in_flight = tokio::spawn(slow);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let server = std::mem::replace(&mut setup.server, Server::start(setup.assistant.clone(), ServeConfig::new(0, false, TOKEN.into())).unwrap());
        let stopping = Instant::now();
        tokio::task::spawn_blocking(move || server.stop()).await.unwrap();
        assert!(stopping.elapsed() < Duration::from_secs(10), "stopping took {:?}", stopping.elapsed());
        let _ = in_flight.await;
        assert!(setup.api_answers().len() <= 2);
    });
}

#[test]
fn concurrent_clients_are_answered_or_refused_none_lost_and_the_budget_holds() {
    let setup = Arc::new(Setup::start(2, 0.002));
    block_on(async {
        let mut clients = Vec::new();
        for client in 0..8 {
            let setup = setup.clone();
            clients.push(tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for round in 0..3 {
                    let model = ["automix", "automix-local"][(client + round) % 2];
                    let body = json!({ "model": model, "user": format!("client-{client}"), "stream": round == 1, "messages": [{ "role": "user", "content": format!("Client {client} asks: who designed the Eiffel Tower?") }] });
                    let response = setup.post(body).await;
                    let status = response.status().as_u16();
                    if status == 429 {
                        assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
                        assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "queue_full");
                    } else {
                        let _ = response.bytes().await.unwrap();
                    }
                    outcomes.push(status);
                }
                outcomes
            }));
        }
        let mut answered = 0;
        let mut refused = 0;
        for client in clients {
            for status in client.await.unwrap() {
                match status {
                    200 => answered += 1,
                    429 => refused += 1,
                    other => panic!("a request got {other}, neither an answer nor a 429"),
                }
            }
        }
        assert_eq!(answered + refused, 24);
        assert!(answered >= 3 && refused >= 1, "{answered} answered, {refused} refused");
        assert_eq!(setup.api_answers().len(), answered, "History has exactly the answered requests");
        let status = setup.assistant.ledger().month_status().unwrap();
        assert!(status.settled <= status.limit, "{status:?}");
    });
}
