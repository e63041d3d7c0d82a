//! Exports carry the receipts: each answer with its citations and pages, its badge and reason,
//! confidence and cost, in Markdown and JSON, for a conversation or the filtered history; files
//! are never overwritten. Needs no models: the answers are recorded as the engine records them.

use automix::assistant::{Assistant, AssistantPaths, ExportFormat, ExportSelection};
use automix::history::{Citation, Escalation, LocalAnswer, QuestionRecord, RouteDecision, Routing};
use automix::remote::{Cost, EscalationPayload};
use automix::types::{ErrorCode, SourceLocation, Usage};

fn location(title: &str, page: u32, label: Option<&str>) -> SourceLocation {
    SourceLocation {
        document_id: 1,
        path: format!("/docs/{title}.pdf"),
        title: title.into(),
        page_start: Some(page),
        page_end: Some(page),
        page_label_start: label.map(String::from),
        page_label_end: label.map(String::from),
        ocr_confidence: None,
        section: Some("Deposit".into()),
        char_start: 0,
        char_end: 40,
    }
}

fn record(conversation_id: i64, question: &str, escalated: bool) -> QuestionRecord {
    QuestionRecord {
        conversation_id,
        asked_at_ms: 1_796_664_434_000,
        question: question.into(),
        citations: vec![Citation {
            source: "Lease".into(),
            chunk_id: Some("3".into()),
            text: "The deposit is 4711 euros.".into(),
            score: 0.8,
            location: Some(location("Lease", 26, Some("19"))),
        }],
        local: LocalAnswer { model: "smollm2".into(), text: "4711 euros".into(), verifier_value: Some(0.62), latency_ms: 900, verify_latency_ms: 200 },
        routing: Routing {
            decision: if escalated { RouteDecision::Escalate } else { RouteDecision::Local },
            reason: if escalated { "the local answer is estimated only 41% likely right".into() } else { "escalating would not pay off".into() },
            expected_utilities: Default::default(),
            lambda: Some(1.0),
            estimated_cost: Some(Cost::from_units(0.002)),
            local_confidence: Some(if escalated { 0.41 } else { 0.87 }),
        },
        escalation: escalated.then(|| Escalation {
            model: "gpt-4o-mini".into(),
            payload: EscalationPayload { system_prompt: "s".into(), question: question.into(), chunks: vec![], earlier_turns: vec![] },
            answer: Some("The deposit is 4,711 euros, held in escrow.".into()),
            usage: Some(Usage { prompt_tokens: 300, completion_tokens: 20 }),
            usage_estimated: false,
            cost: Cost::from_units(0.00045),
            currency: "USD".into(),
            latency_ms: 800,
            error: None,
        }),
        total_latency_ms: 1900,
    }
}

#[test]
fn markdown_and_json_exports_carry_citations_badges_reasons_and_costs() {
    let dir = tempfile::tempdir().unwrap();
    let assistant = Assistant::open(&AssistantPaths::from_home(dir.path()), None, Default::default()).unwrap();
    let flat = assistant.new_conversation("The flat").unwrap();
    let other = assistant.new_conversation("Other").unwrap();
    assistant.history().record(&record(flat, "How much is the deposit?", false)).unwrap();
    assistant.history().record(&record(flat, "Where is the deposit held?", true)).unwrap();
    assistant.history().record(&record(other, "Unrelated question?", false)).unwrap();

    let markdown = assistant.export(&ExportSelection::Conversation { id: flat }, ExportFormat::Markdown).unwrap();
    assert!(markdown.starts_with("# The flat\n"), "{markdown}");
    assert!(markdown.contains("2 answers, 1 answered by a remote model, total cost 0.000450 USD"), "{markdown}");
    assert!(markdown.contains("## How much is the deposit?") && markdown.contains("## Where is the deposit held?"));
    assert!(!markdown.contains("Unrelated"), "another conversation leaked in");
    assert!(markdown.contains("**Local · 87% confident**"), "{markdown}");
    assert!(markdown.contains("**Escalated to gpt-4o-mini · 0.000450 USD**"), "{markdown}");
    assert!(markdown.contains("> The deposit is 4,711 euros, held in escrow."), "the shown answer is the remote one");
    assert!(markdown.contains("The local answer (smollm2), not shown:\n\n> 4711 euros"));
    assert!(markdown.contains("**Why:** the local answer is estimated only 41% likely right"));
    assert!(markdown.contains("1. Lease, p. 19 (PDF page 26), § Deposit — `/docs/Lease.pdf`"), "{markdown}");
    assert!(markdown.contains("Local answer 41% likely right, the local answer's self-check 62%, cost 0.000450 USD, worst case 0.002000 USD."), "{markdown}");
    assert!(markdown.contains("*Asked 2026-12-07 17:27:14 UTC*"));

    let json: serde_json::Value =
        serde_json::from_str(&assistant.export(&ExportSelection::History { escalated_only: true, search: String::new() }, ExportFormat::Json).unwrap())
            .unwrap();
    let answers = json["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 1, "the history filtered to escalated answers");
    assert_eq!(answers[0]["question"], "Where is the deposit held?");
    assert_eq!(answers[0]["decision"], "escalate");
    assert_eq!(answers[0]["citations"][0]["page_label_start"], "19");
    assert!((json["total_cost"].as_f64().unwrap() - 0.00045).abs() < 1e-12);
    let searched = assistant.export(&ExportSelection::History { escalated_only: false, search: "Unrelated".into() }, ExportFormat::Markdown).unwrap();
    assert!(searched.starts_with("# History (matching “Unrelated”)") && searched.contains("1 answer,"), "{searched}");

    let unknown = assistant.export(&ExportSelection::Conversation { id: 999 }, ExportFormat::Markdown).unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::UnknownConversation);

    // Files land in the export folder and never overwrite one another.
    let exports = dir.path().join("exports-here");
    std::env::set_var("AUTOMIX_EXPORT_DIR", &exports);
    let first = assistant.export_to_file(&ExportSelection::Conversation { id: flat }, ExportFormat::Markdown).unwrap();
    let second = assistant.export_to_file(&ExportSelection::Conversation { id: flat }, ExportFormat::Markdown).unwrap();
    assert_ne!(first, second);
    assert!(first.starts_with(&exports) && first.extension().unwrap() == "md");
    assert_eq!(std::fs::read_to_string(&first).unwrap().lines().next(), Some("# The flat"));
    assert!(second.file_name().unwrap().to_string_lossy().ends_with("-2.md"), "{second:?}");
}
