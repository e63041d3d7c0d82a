//! The one observation path on the real models: `ask` and `collect` read identical signals for the
//! same question, a question about the document of the one before continues from its passages,
//! the France questions get "Paris" rated above an average answer, and a
//! calibration run for a model is resumable, cancellable and used by the router afterwards.

use automix::types::ErrorCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use automix::assistant::{calibration_path, AskEvent, Assistant, AssistantConfig, AssistantPaths, RouteDecision, Router, Scope};
use automix::calibrate::{calibrate_model, calibration_set, CalibrationFiles};
use automix::collect::{collect_item, index_contexts, CollectProgress};
use automix::models::{Catalog, ModelKind, ModelStore};
use automix::qa::QaItem;
use automix::router::{fit_calibration, CalibrationOptions, LabelledSignals, SignalValues};
use automix::settings::Settings;

const FRANCE_PAGE: &str = include_str!("../assets/france.md");
const FRANCE_SENTENCE: &str = "France is a country in Western Europe. Its capital and largest city is Paris, on the Seine.";

fn chat_model_id() -> String {
    let catalog = Catalog::bundled();
    let entry = catalog.default_for(ModelKind::Chat);
    ModelStore::from_env().locate(entry).unwrap_or_else(|e| panic!("{e} (make test installs it)"));
    entry.id.clone()
}

/// A home in `dir` whose models are the installed ones.
fn home_with_models(dir: &tempfile::TempDir) -> AssistantPaths {
    let mut paths = AssistantPaths::from_home(dir.path());
    std::os::unix::fs::symlink(ModelStore::from_env().root(), paths.home.join("models")).ok();
    paths.learning_since = dir.path().join(automix::assistant::LEARNING_SINCE_FILE);
    paths
}

fn open(paths: &AssistantPaths) -> Assistant {
    let assistant = Assistant::open(paths, None, AssistantConfig::default()).unwrap();
    assistant.load_embedder().unwrap();
    assistant.load_chat_model(&chat_model_id()).unwrap();
    assistant
}

fn item(id: &str, context: &str, question: &str, answer: &str) -> QaItem {
    QaItem {
        id: id.into(),
        dataset: "france".into(),
        context: context.into(),
        question: question.into(),
        answers: vec![answer.into()],
        metric: "f1".into(),
        choices: Vec::new(),
        gold_index: None,
    }
}

fn routed_signals(events: &[AskEvent]) -> (SignalValues, f64, RouteDecision, bool) {
    events
        .iter()
        .find_map(|event| match event {
            AskEvent::Routed { signals, local_confidence, decision, calibrated, .. } => Some(((**signals).clone(), *local_confidence, *decision, *calibrated)),
            _ => None,
        })
        .expect("a Routed event")
}

fn assert_same_signals(asked: &SignalValues, collected: &SignalValues) {
    let close = |a: Option<f64>, b: Option<f64>, what: &str| match (a, b) {
        (Some(a), Some(b)) => assert!((a - b).abs() < 1e-3, "{what}: ask {a} vs collect {b}"),
        (a, b) => assert_eq!(a, b, "{what}"),
    };
    close(asked.v_logit, collected.v_logit, "v_logit");
    close(asked.answer_logprob, collected.answer_logprob, "answer_logprob");
    close(asked.answer_min_logprob, collected.answer_min_logprob, "answer_min_logprob");
    close(asked.retrieval_score, collected.retrieval_score, "retrieval_score");
    close(asked.context_similarity, collected.context_similarity, "context_similarity");
    assert_eq!(asked.answer_tokens, collected.answer_tokens);
    assert_eq!((asked.grounded, asked.refusal, asked.type_match), (collected.grounded, collected.refusal, collected.type_match));
}

#[test]
fn ask_and_collect_read_the_same_signals_for_the_same_question() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let assistant = open(&paths);
    let question = item("france-1", FRANCE_PAGE, "Which river does Paris lie on?", "Seine");
    let never = Arc::new(AtomicBool::new(false));
    let documents = index_contexts(&assistant, std::slice::from_ref(&question), &dir.path().join("work"), &mut |_, _| {}, &never).unwrap();
    let document = documents[FRANCE_PAGE];

    let conversation = assistant.new_conversation("signals").unwrap();
    let mut events = Vec::new();
    assistant.ask(&question.question, &Scope::Documents(vec![document]), conversation, &mut |e| events.push(e), &never).unwrap();
    let (asked, ..) = routed_signals(&events);
    let row = collect_item(&assistant, &question, document, &[], None, &never).unwrap();
    assert_same_signals(&asked, &row.signals);
    assert!(asked.retrieval_score.is_some() && asked.context_similarity.is_some(), "the library's signals are read: {asked:?}");
    let Some(AskEvent::Done { answer, .. }) = events.last() else { panic!("no answer") };
    assert_eq!(answer.trim(), row.slm.answer, "the same answer, so the same row");
}

/// A question about the document of the question before continues from the kept instructions and
/// passages, reading only its own words, and answers exactly as an engine that read everything.
#[test]
fn a_second_question_about_the_same_document_reads_only_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let assistant = open(&paths);
    let scope = Scope::Text { source: "france.md".into(), text: FRANCE_PAGE.into() };
    let never = Arc::new(AtomicBool::new(false));
    let observe = |assistant: &Assistant, question: &str| assistant.observe(question, &scope, None, &mut |_| {}, &never).unwrap().answer;
    let page_tokens = assistant.model().unwrap().count_tokens(FRANCE_PAGE).unwrap();
    let first = observe(&assistant, "What is the capital of France?");
    assert!(first.timings.reused_tokens < page_tokens / 2, "the first question reads the page: {:?}", first.timings);
    let second = observe(&assistant, "Which river does Paris lie on?");
    assert!(second.timings.reused_tokens > page_tokens, "the second continues from the page: {:?}", second.timings);
    assert!(second.timings.prefill_tokens < 40, "and reads its own question only: {:?}", second.timings);
    let fresh = observe(&open(&paths), "Which river does Paris lie on?");
    assert_eq!(fresh.timings.reused_tokens, first.timings.reused_tokens, "a fresh engine has only the instructions");
    assert_eq!((&second.tokens, &second.token_logprobs), (&fresh.tokens, &fresh.token_logprobs), "{:?} against {:?}", second.text, fresh.text);
}

/// Not checked, because it does not hold: a confidence above the escalation point at the slider's
/// neutral λ (about 0.8 for a remote model rated 0.8). SmolLM2's best-rated answers are right only
/// 60–80% of the time, so an honest calibration does not say 0.8 for any of them (measured: 0.50
/// for the page, 0.36 for the one-sentence context, against 0.34 for an average answer; see
/// docs/evaluation.md). Checked: both answers are right, and the page's is rated above the average
/// answer. The one-sentence context's terse "The answer to the question is: Paris." sits at the
/// average (0.36 with the earlier kernels, 0.32 with the fused CPU forward pass, against 0.34), where
/// kernel rounding moves it to either side, so only its rightness is checked.
#[test]
fn the_france_questions_answer_paris_and_the_page_is_rated_above_an_average_answer() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let assistant = open(&paths);
    let average = Router::bundled().unwrap().slm_accuracy();
    for (source, text) in [("france.md", FRANCE_PAGE), ("france.txt", FRANCE_SENTENCE)] {
        let conversation = assistant.new_conversation("France").unwrap();
        let mut events = Vec::new();
        let scope = Scope::Text { source: source.into(), text: text.into() };
        assistant.ask("What is the capital of France?", &scope, conversation, &mut |e| events.push(e), &Arc::new(AtomicBool::new(false))).unwrap();
        let (signals, confidence, _, calibrated) = routed_signals(&events);
        let Some(AskEvent::Done { answer, .. }) = events.last() else { panic!("no answer") };
        assert!(answer.contains("Paris"), "{source}: {answer:?}");
        assert!(calibrated, "the bundled model has its calibration");
        eprintln!("{source}: {answer:?} rated {confidence:.3} (average answer {average:.3})");
        if source == "france.md" {
            assert!(confidence > average, "{source}: a right, grounded answer is rated above the average {average:.2}: {confidence:.2} from {signals:?}");
        }
    }
}

#[test]
fn calibrating_a_model_resumes_after_a_cancel_and_the_router_then_uses_it() {
    let dir = tempfile::tempdir().unwrap();
    let paths = home_with_models(&dir);
    let model = chat_model_id();
    let mut items: Vec<QaItem> = calibration_set().unwrap();
    assert!(items.len() >= 200, "the shipped calibration set has a few hundred items");
    items.truncate(4);
    let settings = Settings::default();

    let cancel = Arc::new(AtomicBool::new(false));
    let mut answered = 0;
    let stopped = calibrate_model(
        &paths.home,
        &settings,
        &model,
        &items,
        &mut |progress| {
            if let CollectProgress::Answering { done, .. } = progress {
                answered = done;
                if done == 2 {
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        },
        &cancel,
    );
    assert_eq!(stopped.unwrap_err().code(), ErrorCode::Cancelled);
    let files = CalibrationFiles::new(&paths.home, &model);
    let kept = std::fs::read_to_string(&files.rows).unwrap().lines().count();
    assert_eq!((answered, kept), (2, 2), "the rows answered before the cancel are kept");
    assert!(!files.calibration.exists(), "no calibration from a cancelled run");

    let mut first_progress = None;
    let calibration = calibrate_model(
        &paths.home,
        &settings,
        &model,
        &items,
        &mut |progress| {
            if let CollectProgress::Answering { done, .. } = progress {
                first_progress.get_or_insert(done);
            }
        },
        &Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    assert_eq!(first_progress, Some(2), "the rerun starts after the kept rows");
    assert_eq!(calibration.rows, 4);
    assert_eq!(calibration.slm_model, model);
    let router = Router::for_model(&model, &paths.home).unwrap();
    assert!(router.calibrated());
    assert_eq!(router.slm_accuracy(), calibration.slm_accuracy(), "the router loads the fitted file");
}

#[test]
fn a_second_model_routes_on_its_own_calibration_or_says_it_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let other = "qwen2.5-1.5b-instruct";
    let uncalibrated = Router::for_model(other, dir.path()).unwrap();
    assert!(!uncalibrated.calibrated(), "no calibration yet: the conservative default, and it says so");
    assert_eq!(uncalibrated.slm_accuracy(), Router::bundled().unwrap().slm_accuracy());

    let rows: Vec<LabelledSignals> = (0..70)
        .map(|i| LabelledSignals { signals: SignalValues { answer_logprob: Some(-(i % 7) as f64 / 3.0), ..Default::default() }, correct: i % 7 < 5 })
        .collect();
    let options = CalibrationOptions { slm_model: other.into(), signals: vec![automix::router::Signal::AnswerLogprob], ..Default::default() };
    fit_calibration(&rows, &options).unwrap().save(&calibration_path(dir.path(), other)).unwrap();
    let router = Router::for_model(other, dir.path()).unwrap();
    assert!(router.calibrated());
    assert!((router.slm_accuracy() - 5.0 / 7.0).abs() < 1e-9, "its own prior accuracy");
    let sure = router.local_confidence(&SignalValues { answer_logprob: Some(0.0), ..Default::default() });
    let unsure = router.local_confidence(&SignalValues { answer_logprob: Some(-2.0), ..Default::default() });
    assert!(sure > unsure, "its own histograms: {sure} vs {unsure}");
}
