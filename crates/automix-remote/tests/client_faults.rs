//! The client against the test provider: replayed answers, and every injected fault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use automix_remote::{estimate_tokens, ApiKey, CancelFlag, EndpointError, EscalationPayload, PayloadChunk, RemoteClient, RemoteError, RemoteSettings};
use automix_test_remote::{default_data_dir, fallback_answer, AnswerBook, Fault, TestServer};

const KEY: &str = "sk-test-client-faults-7f3a9c";

fn book() -> Arc<AnswerBook> {
    static BOOK: OnceLock<Arc<AnswerBook>> = OnceLock::new();
    BOOK.get_or_init(|| Arc::new(AnswerBook::load(&default_data_dir()).expect("shared data (set AUTOMIX_SHARED_DATA)"))).clone()
}

fn settings(server: &TestServer) -> RemoteSettings {
    let mut settings = RemoteSettings::new(server.base_url(), "gpt-4o-mini");
    settings.backoff_base_ms = 10;
    settings.max_attempts = 3;
    settings.read_timeout_ms = 5_000;
    settings
}

fn client(server: &TestServer) -> RemoteClient {
    RemoteClient::new(settings(server), Some(ApiKey::new(KEY))).unwrap()
}

fn payload(question: &str) -> EscalationPayload {
    EscalationPayload {
        system_prompt: "Answer from the context only.".into(),
        question: question.into(),
        chunks: vec![PayloadChunk { source: "notes.txt".into(), text: "Some retrieved passage.".into() }],
        earlier_turns: Vec::new(),
    }
}

fn known_question() -> (String, String) {
    book().known_questions().into_iter().next().expect("recorded answers exist")
}

fn no_cancel() -> CancelFlag {
    Arc::new(AtomicBool::new(false))
}

#[tokio::test]
async fn streams_the_recorded_answer_with_reported_usage() {
    let server = TestServer::start(book(), 0).await.unwrap();
    let (question, recorded) = known_question();
    let mut streamed = Vec::new();
    let answer = client(&server).chat_stream(&payload(&question), 4096, |piece| streamed.push(piece.to_string()), &mut |_| {}, &no_cancel()).await.unwrap();
    assert_eq!(answer.text, recorded);
    assert_eq!(streamed.concat(), recorded);
    assert!(streamed.len() > 1 || !recorded.contains(' '));
    assert!(!answer.usage_estimated);
    assert_eq!(answer.usage.completion_tokens as usize, recorded.split_inclusive(' ').count());
    assert!(answer.retries.is_empty());
    let received = server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body["stream_options"]["include_usage"], true);
    assert_eq!(received[0].authorization.as_deref(), Some(format!("Bearer {KEY}").as_str()));
}

#[tokio::test]
async fn non_streaming_answer_and_fallback_for_unknown_questions() {
    let server = TestServer::start(book(), 0).await.unwrap();
    let question = "What colour is the bicycle shed in the appendix?";
    let answer = client(&server).chat(&payload(question), 4096, &mut |_| {}, &no_cancel()).await.unwrap();
    assert_eq!(answer.text, fallback_answer(question));
    assert!(!answer.usage_estimated);
    assert_eq!(answer.finish_reason.as_deref(), Some("stop"));
}

#[tokio::test]
async fn max_tokens_truncates_and_reports_length() {
    let server = TestServer::start(book(), 0).await.unwrap();
    let answer = client(&server).chat_stream(&payload("an unknown question"), 3, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap();
    assert_eq!(answer.usage.completion_tokens, 3);
    assert_eq!(answer.finish_reason.as_deref(), Some("length"));
}

#[tokio::test]
async fn rate_limit_is_retried_after_the_servers_retry_after() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::TooManyRequests { retry_after_secs: 1 }]);
    let answer = client(&server).chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap();
    assert_eq!(server.request_count(), 2);
    assert_eq!(answer.retries.len(), 1);
    assert_eq!(answer.retries[0].delay_ms, 1000);
    assert_eq!(answer.retries[0].cause, "HTTP 429");
}

#[tokio::test]
async fn retry_after_beyond_the_limit_gives_up_at_once() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::TooManyRequests { retry_after_secs: 3600 }]);
    let error = client(&server).chat(&payload("q"), 64, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(error, RemoteError::RateLimited { retry_after_ms: 3_600_000, .. }), "{error:?}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_growing_backoff() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::ServerError, Fault::ServerError]);
    let answer = client(&server).chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap();
    assert_eq!(server.request_count(), 3);
    let delays: Vec<u64> = answer.retries.iter().map(|retry| retry.delay_ms).collect();
    // Equal jitter: attempt n waits between half and all of base * 2^(n-1).
    assert!((5..=10).contains(&delays[0]) && (10..=20).contains(&delays[1]), "{delays:?}");
}

#[tokio::test]
async fn persistent_server_errors_exhaust_the_attempts() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::ServerError, Fault::ServerError, Fault::ServerError, Fault::ServerError]);
    let error = client(&server).chat(&payload("q"), 64, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(&error, RemoteError::RetriesExhausted { attempts: 3, retries, .. } if retries.len() == 2), "{error:?}");
    assert_eq!(server.request_count(), 3);
}

#[tokio::test]
async fn client_errors_are_not_retried_and_never_echo_the_key() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::Unauthorized]);
    let error = client(&server).chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(error, RemoteError::Rejected { status: 401, .. }), "{error:?}");
    assert_eq!(server.request_count(), 1);
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("Incorrect API key") && !shown.contains(KEY), "{shown}");
}

#[tokio::test]
async fn malformed_stream_is_a_protocol_error_without_retry() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::MalformedSse, Fault::MalformedSse]);
    let stream_error = client(&server).chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap_err();
    let whole_error = client(&server).chat(&payload("q"), 64, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(stream_error, RemoteError::Protocol { .. }), "{stream_error:?}");
    assert!(matches!(whole_error, RemoteError::Protocol { .. }), "{whole_error:?}");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn disconnect_mid_stream_keeps_the_partial_text_and_is_not_retried() {
    let server = TestServer::start(book(), 0).await.unwrap();
    let (question, recorded) = known_question();
    server.push_faults([Fault::DisconnectMidStream]);
    let mut streamed = String::new();
    let error = client(&server).chat_stream(&payload(&question), 4096, |piece| streamed.push_str(piece), &mut |_| {}, &no_cancel()).await.unwrap_err();
    match error {
        RemoteError::Interrupted { partial_text, .. } => {
            assert_eq!(partial_text, streamed);
            assert!(recorded.starts_with(&partial_text));
        }
        other => panic!("expected Interrupted, got {other:?}"),
    }
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn missing_usage_is_estimated_and_flagged() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::MissingUsage, Fault::MissingUsage]);
    let sent = payload("an unknown question about sheds");
    for streaming in [true, false] {
        let answer = if streaming {
            client(&server).chat_stream(&sent, 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap()
        } else {
            client(&server).chat(&sent, 64, &mut |_| {}, &no_cancel()).await.unwrap()
        };
        assert!(answer.usage_estimated);
        assert_eq!(answer.usage.completion_tokens, estimate_tokens(&answer.text));
        let prompt: u64 = sent.to_messages().iter().map(|message| estimate_tokens(&message.content)).sum();
        assert_eq!(answer.usage.prompt_tokens, prompt);
    }
}

#[tokio::test]
async fn wrong_content_type_is_refused() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::WrongContentType]);
    let error = client(&server).chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(&error, RemoteError::Protocol { detail } if detail.contains("text/html")), "{error:?}");
    assert_eq!(server.request_count(), 1);
}

#[tokio::test]
async fn latency_within_the_read_timeout_succeeds_and_beyond_it_times_out_without_retry() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::Latency { millis: 50 }, Fault::Latency { millis: 2_000 }]);
    let mut patient = settings(&server);
    patient.read_timeout_ms = 1_000;
    let client = RemoteClient::new(patient, Some(ApiKey::new(KEY))).unwrap();
    assert!(client.chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.is_ok());
    let error = client.chat_stream(&payload("q"), 64, |_| {}, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(error, RemoteError::Timeout { after_ms: 1_000 }), "{error:?}");
    assert_eq!(server.request_count(), 2);
}

#[tokio::test]
async fn cancelling_while_waiting_or_streaming_stops_the_call() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::Latency { millis: 4_000 }]);
    let cancel = no_cancel();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        trigger.store(true, Ordering::Relaxed);
    });
    let error = client(&server).chat(&payload("q"), 64, &mut |_| {}, &cancel).await.unwrap_err();
    assert!(matches!(error, RemoteError::Cancelled { .. }), "{error:?}");

    let (question, _) = known_question();
    let cancel = no_cancel();
    let mut pieces = 0;
    let error = client(&server)
        .chat_stream(
            &payload(&question),
            4096,
            |_| {
                pieces += 1;
                cancel.store(true, Ordering::Relaxed);
            },
            &mut |_| {},
            &cancel,
        )
        .await
        .unwrap_err();
    assert!(matches!(&error, RemoteError::Cancelled { partial_text } if !partial_text.is_empty()), "{error:?}");
    assert!(pieces >= 1);
}

#[tokio::test]
async fn connection_refused_is_retried_then_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut settings = RemoteSettings::new(format!("http://127.0.0.1:{port}/v1"), "m");
    settings.backoff_base_ms = 5;
    settings.max_attempts = 3;
    let error = RemoteClient::new(settings, None).unwrap().chat(&payload("q"), 8, &mut |_| {}, &no_cancel()).await.unwrap_err();
    assert!(matches!(&error, RemoteError::RetriesExhausted { attempts: 3, last, .. } if last.contains("connect")), "{error:?}");
}

#[test]
fn plain_http_to_a_remote_host_is_refused_before_sending() {
    let error = RemoteClient::new(RemoteSettings::new("http://api.openai.com/v1", "gpt-4o"), Some(ApiKey::new(KEY))).unwrap_err();
    assert!(matches!(error, RemoteError::Endpoint(EndpointError::InsecureEndpoint { .. })));
    assert!(error.to_string().contains("use https://"));
}

#[test]
fn blocking_client_works_without_a_runtime() {
    let server = TestServer::start_blocking(book()).unwrap();
    let (question, recorded) = known_question();
    let blocking = automix_remote::BlockingRemoteClient::new(client(&server)).unwrap();
    let answer = blocking.chat_stream(&payload(&question), 4096, |_| {}, &mut |_| {}, &no_cancel()).unwrap();
    assert_eq!(answer.text, recorded);
}

/// llama.cpp's llama-server (0.3.36) answers a streamed request with `Keep-Alive: timeout=5` and
/// then closes the connection. A client that pools connections sent the next escalation on the
/// closed one and failed ("connection closed before message completed"): found by recording
/// answers from a real llama-server. This server does what llama-server does, byte for byte in
/// the parts that matter, and three calls in a row must all be answered.
#[test]
fn a_server_that_closes_after_each_streamed_answer_is_reconnected_to() {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let events = [
                r#"{"choices":[{"index":0,"delta":{"content":"Paris"},"finish_reason":null}],"model":"qwen"}"#,
                r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"model":"qwen"}"#,
                r#"{"choices":[],"model":"qwen","usage":{"prompt_tokens":12,"completion_tokens":1,"total_tokens":13}}"#,
            ];
            let mut reply =
                String::from("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n");
            for event in events.iter().map(|data| format!("data: {data}\n\n")).chain(["data: [DONE]\n\n".to_string()]) {
                reply.push_str(&format!("{:x}\r\n{event}\r\n", event.len()));
            }
            reply.push_str("0\r\n\r\n");
            stream.write_all(reply.as_bytes()).unwrap();
            // What llama-server does a moment after a streamed answer, despite its Keep-Alive
            // header: the client has put the connection back in its pool by then.
            std::thread::sleep(std::time::Duration::from_millis(100));
            stream.shutdown(std::net::Shutdown::Both).ok();
        }
    });
    let settings = RemoteSettings::new(format!("http://127.0.0.1:{port}/v1"), "qwen");
    let client = automix_remote::BlockingRemoteClient::new(RemoteClient::new(settings, None).unwrap()).unwrap();
    for call in 1..=3 {
        let answer = client.chat_stream(&payload("Capital of France?"), 16, |_| {}, &mut |_| {}, &no_cancel()).unwrap_or_else(|e| panic!("call {call}: {e}"));
        assert_eq!(answer.text, "Paris");
        assert_eq!((answer.usage.prompt_tokens, answer.usage.completion_tokens), (12, 1));
        assert!(answer.retries.is_empty(), "call {call} needed retries: {:?}", answer.retries);
        // The app's next escalation comes after a local answer; the close happens meanwhile.
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

/// The network log's source: one record per HTTP attempt, retried ones included, with exactly
/// the body bytes the provider received, the status, and no server message (which may echo the key).
#[tokio::test]
async fn every_attempt_is_reported_with_the_bytes_the_server_received() {
    let server = TestServer::start(book(), 0).await.unwrap();
    server.push_faults([Fault::ServerError]);
    let (question, _) = known_question();
    let mut requests = Vec::new();
    let answer = client(&server).chat_stream(&payload(&question), 4096, |_| {}, &mut |request| requests.push(request), &no_cancel()).await.unwrap();
    let received = server.received();
    assert_eq!(requests.len(), 2, "the failed attempt and the answered one");
    assert_eq!(received.len(), 2);
    for (request, arrived) in requests.iter().zip(&received) {
        assert_eq!(request.bytes_sent, Some(arrived.body_bytes as u64), "bytes sent are the bytes that arrived");
        assert_eq!(request.host, server.address().to_string());
        assert_eq!(request.what, "POST /v1/chat/completions");
        assert_eq!(request.purpose, automix_remote::NetworkPurpose::Escalation);
    }
    assert_eq!((requests[0].status, requests[0].error.as_deref()), (Some(500), Some("HTTP 500")));
    assert_eq!((requests[1].status, requests[1].error.as_deref()), (Some(200), None));
    assert!(requests[1].bytes_received as usize > answer.text.len(), "the streamed events carry the answer and more");

    server.push_faults([Fault::Unauthorized]);
    let mut refused = Vec::new();
    client(&server).chat(&payload("q"), 64, &mut |request| refused.push(request), &no_cancel()).await.unwrap_err();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].error.as_deref(), Some("refused (HTTP 401)"));
    assert!(!format!("{refused:?}").contains(KEY), "the echoed key stays out of the log");
}
