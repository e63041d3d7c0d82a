// Generated from the Rust types by src-tauri/src/typescript.rs (ts-rs); do not edit.
// Regenerate with `make ui-types` after changing one of the types.

export type ErrorCode = "cancelled" | "busy" | "internal" | "model_not_ready" | "model_missing" | "model_damaged" | "model_unavailable" | "unknown_model" | "context_overflow" | "model" | "device_unknown" | "device_not_built" | "device_no_gpu" | "device_driver" | "device_architecture" | "device_failed" | "library_empty" | "no_documents_chosen" | "unknown_document" | "no_paths" | "library" | "empty_question" | "unknown_question" | "unknown_conversation" | "already_escalated" | "history" | "budget_exceeded" | "over_answer_cap" | "budget_invalid" | "budget" | "no_remote" | "remote" | "keychain" | "key_empty" | "settings_io" | "settings_corrupt" | "settings_invalid" | "invalid_input" | "router" | "io";

export type AppError = { code: ErrorCode, message: string, };

export type RouteDecision = "local" | "escalate" | "stay_local_budget" | "stay_local";

export type Citation = { 
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
 * that differ from the physical numbers.
 */
page_label_start: string | null, page_label_end: string | null, section: string | null, 
/**
 * Character range of the chunk body in the document's extracted text.
 */
char_start: number, char_end: number, 
/**
 * A short excerpt around the first query word found, for display.
 */
snippet: string, };

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
type_match?: boolean | null, };

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
 * Everything the router read about the local answer.
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
