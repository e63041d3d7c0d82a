// The typed IPC contract between the UI and the Tauri shell (src-tauri/src/*/commands.rs).
// Every figure the UI shows comes from these calls; nothing is computed from guesses here.
// Payload fields are snake_case, as the engine serializes them; Tauri maps the camelCase
// argument names below to the commands' snake_case parameters.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AnswerSource, AppError, AskEvent, Citation, ErrorCode, RouteDecision, RouterLearning, SignalValues } from "./generated/ipc";

/** Every failed command rejects with `AppError`: `code` is stable (`ErrorCode`, generated from
 *  the engine's enum), `message` is for people. */
export type { AnswerSource, AppError, AskEvent, Citation, ErrorCode, RouteDecision, RouterLearning, SignalValues };

// ---------- app & models ----------
export type ModelLoad =
  | { state: "missing"; message: string } // model files not installed: offer download
  | { state: "loading"; model_id: string }
  | { state: "ready"; model_id: string; load_ms: number }
  | { state: "failed"; message: string; code: ErrorCode };

export interface AppStatus {
  chat_model: ModelLoad; // the local chat model (answers need it)
  embedder: ModelLoad; // the document embedder (adding documents and library questions need it)
  first_run: boolean; // no documents and no questions yet: show the guided start
  documents: number;
  questions: number;
}

export interface CatalogModel {
  id: string;
  name: string;
  kind: "chat" | "embedding";
  approx_size_mb: number;
  quantization: string;
  license: string;
  installed: boolean;
  active: boolean; // the chat model chosen in settings (or the embedder in use)
  tested_here: boolean; // pulled and run on the project's own machines
  download_bytes: number; // size of the file the app loads
  memory_needed_mb: number | null; // at the settings' context (file + KV cache + overhead); null for the embedder
  memory_exact: boolean; // false before the download: the figure leaves out the KV cache
  speed: SpeedStatus | null; // null for the embedder
  router: RouterStatus | null; // null for the embedder
}

/** What the router routes a chat model on now (automix::calibrate::CalibrationStatus). */
export type CalibrationStatus =
  | { state: "calibrated"; origin: "fitted_here" | "bundled"; rows: number; local_accuracy: number }
  // Routes like SmolLM2-135M (escalates more than needed); `answered` items of a stopped run are kept.
  | { state: "not_calibrated"; answered: number; total: number };

/** A calibration run that waits, runs or failed (src-tauri state::CalibrationRun). */
export type CalibrationRun =
  | { state: "queued" } // starts after the speed measurement that follows a download
  | { state: "indexing"; done: number; total: number }
  | { state: "answering"; done: number; total: number; correct: number; paused: boolean } // paused while a question runs
  | { state: "failed"; message: string; code: ErrorCode };

export interface RouterStatus {
  calibration: CalibrationStatus;
  run: CalibrationRun | null;
  learning: RouterLearning | null; // what use taught the router: the chat model in use only
}

/** Payload of MODEL_CALIBRATION_EVENT: `outcome` is set once, when the run ends. */
export interface CalibrationEvent {
  model_id: string;
  outcome: "calibrated" | "cancelled" | "failed" | null;
}

/** A chat model's figures on this machine (automix::speed::ModelSpeed). */
export interface ModelSpeed {
  model_id: string;
  file_sha256: string;
  file_bytes: number;
  measured_at_ms: number;
  device: string;
  cpu_kernels: string;
  threads: number;
  prompt_tokens: number;
  decode_tokens: number;
  load_secs: number;
  prefill_tokens_per_sec: number;
  decode_tokens_per_sec: number;
  memory_needed_mb: number;
  context_tokens: number;
  rss_growth_mb: number; // measured growth of resident memory (a check on memory_needed_mb)
}

export type SpeedStatus =
  | { state: "not_measured" }
  | { state: "measuring" }
  | ({ state: "measured" } & ModelSpeed)
  | { state: "failed"; message: string; code: ErrorCode };

/** The chat model recommended for this machine (automix::machine::Recommendation). */
export interface Recommendation {
  model_id: string;
  machine: { ram_bytes: number | null; cores: number };
  reason: string; // "recommended for 24 GiB RAM, 2 cores"
}

export type PullProgress =
  | { kind: "trying"; source: string }
  | { kind: "source_failed"; source: string; reason: string }
  | { kind: "download"; file: string; done: number; total: number }
  | { kind: "verifying"; file: string }
  | { kind: "converting"; done: number; total: number };

export const appStatus = () => invoke<AppStatus>("app_status");
export const modelsList = () => invoke<CatalogModel[]>("models_list");
/** Resolves when installed; rejects with code "cancelled" after modelsCancelDownload. */
export const modelsDownload = (id: string, onProgress: Channel<PullProgress>) =>
  invoke<void>("models_download", { id, onProgress });
export const modelsCancelDownload = () => invoke<void>("models_cancel_download");
/** Saves the choice in settings and loads the model in the background (watch appStatus). */
export const modelsActivate = (id: string) => invoke<void>("models_activate", { id });
/** Measures an installed chat model's speed (seconds); rejects with code "busy" while it is being measured. */
export const modelsMeasure = (id: string) => invoke<ModelSpeed>("models_measure", { id });
export const modelsRecommend = () => invoke<Recommendation>("models_recommend");
/** Tauri event (payload: the model id) when a speed measurement ended, e.g. the one after a download. */
export const MODEL_SPEED_EVENT = "model-speed";
/** Starts calibrating the router for an installed chat model in the background (progress: MODEL_CALIBRATION_EVENT);
 * rejects with code "busy" while another calibration waits or runs. */
export const modelsCalibrate = (id: string) => invoke<void>("models_calibrate", { id });
/** Stops the calibration run after the item it is answering; its answers are kept for the next run. */
export const modelsCancelCalibration = () => invoke<void>("models_cancel_calibration");
/** The router forgets what 👍/👎 and judged answers taught it, and routes on the calibration alone. */
export const modelsForgetLearning = () => invoke<void>("models_forget_learning");
/** Tauri event (payload: CalibrationEvent) as a calibration run moves on and when it ends. */
export const MODEL_CALIBRATION_EVENT = "model-calibration";

// ---------- documents ----------
export interface DocumentInfo {
  id: number;
  path: string;
  title: string;
  format: string;
  content_hash: string;
  size_bytes: number;
  chunk_count: number;
  indexed_at: number; // seconds since the epoch
}

export type FileOutcome =
  | { status: "added"; document_id: number; chunks: number }
  | { status: "updated"; document_id: number; chunks: number }
  | { status: "unchanged"; document_id: number }
  | { status: "removed"; document_id: number }
  | { status: "failed"; error: string };

export interface FileReport {
  path: string;
  outcome: FileOutcome;
}

/** Progress of an indexing run; the per-file outcomes come back when it ends. */
export type IndexEvent = { kind: "progress"; files_done: number; files_total: number; chunks_indexed: number; current_file: string | null };

export const documentsList = () => invoke<DocumentInfo[]>("documents_list");
export const documentsFolders = () => invoke<string[]>("documents_folders");

/** One physical page of a document as the library read it, with its printed label if different. */
export interface PageText {
  number: number;
  label: string | null;
  text: string;
}

/** The text the library holds for a document; `pages` is empty for formats without pages. */
export interface DocumentText {
  document: DocumentInfo;
  pages: PageText[];
  text: string;
}

export const documentsText = (id: number) => invoke<DocumentText>("documents_text", { id });
/** Files and/or folders; folders are remembered and watched. Per-file failures come back as reports. */
export const documentsAdd = (paths: string[], onProgress: Channel<IndexEvent>) =>
  invoke<FileReport[]>("documents_add", { paths, onProgress });
export const documentsRemove = (id: number) => invoke<DocumentInfo>("documents_remove", { id });
export const documentsSync = (onProgress: Channel<IndexEvent>) => invoke<FileReport[]>("documents_sync", { onProgress });
export const documentsCancel = () => invoke<void>("documents_cancel");
/** Tauri event emitted (listen from "@tauri-apps/api/event") when the folder watcher changed the library. */
export const DOCUMENTS_CHANGED_EVENT = "documents-changed";

// ---------- chat ----------
/** What the router decided: the same words in the live event, the stored row and the CLI. */
export type Decision = RouteDecision;

export interface Conversation {
  id: number;
  title: string;
  created_at_ms: number;
}

/** One answered question as stored: what the chat and the history show. */
export interface AnswerView {
  id: number;
  conversation_id: number;
  asked_at_ms: number;
  question: string;
  citations: Citation[];
  passages: string[];
  local_answer: string;
  local_model: string;
  verifier_value: number | null;
  local_confidence: number | null;
  decision: Decision;
  reason: string;
  estimated_cost: number | null;
  remote_model: string | null;
  remote_answer: string | null;
  remote_error: string | null;
  cost: number;
  currency: string;
  feedback: "up" | "down" | null;
  latency_ms: number;
}

export interface PayloadPreview {
  model: string | null; // null: no remote model configured
  messages: { role: string; content: string }[]; // exactly what would be sent
  worst_case_cost: number | null;
  currency: string;
}

export const chatConversations = () => invoke<Conversation[]>("chat_conversations");
export const chatConversation = (conversationId: number) => invoke<AnswerView[]>("chat_conversation", { conversationId });
export const chatNewConversation = (title: string) => invoke<number>("chat_new_conversation", { title });
/** documentIds null = the whole library. Rejects with code "busy" when this conversation already has a question running. */
export const chatAsk = (question: string, conversationId: number, documentIds: number[] | null, onEvent: Channel<AskEvent>) =>
  invoke<number>("chat_ask", { question, conversationId, documentIds, onEvent });
export const chatCancel = (conversationId: number) => invoke<void>("chat_cancel", { conversationId });
/** The user asks the remote model for a local answer; charged through the budget like any escalation. */
export const chatEscalate = (questionId: number, onEvent: Channel<AskEvent>) => invoke<AnswerView>("chat_escalate", { questionId, onEvent });
export const chatFeedback = (questionId: number, verdict: "up" | "down" | null) => invoke<void>("chat_feedback", { questionId, verdict });
export const chatPreviewPayload = (question: string, conversationId: number | null, documentIds: number[] | null) =>
  invoke<PayloadPreview>("chat_preview_payload", { question, conversationId, documentIds });

// ---------- history & spend ----------
export interface HistoryPage {
  answers: AnswerView[]; // newest first
  total_cost: number;
  currency: string;
  count: number;
  escalated: number;
}
export interface SpendDay {
  day: string; // YYYY-MM-DD
  cost: number;
  escalations: number;
}
export interface SpendReport {
  month: string; // YYYY-MM
  currency: string;
  limit: number;
  spent: number; // settled this month
  reserved: number; // held by calls in flight
  remaining: number;
  per_day: SpendDay[]; // this month, days with spending
  answers: number; // this month
  escalated: number; // this month
  escalated_share: number; // 0..1
  all_remote_cost: number; // estimated cost had every answer this month gone to the remote model
  saved: number; // all_remote_cost - spent
}

export const historyList = (escalatedOnly: boolean, search: string) => invoke<HistoryPage>("history_list", { escalatedOnly, search });
export const spendReport = () => invoke<SpendReport>("spend_report");

// ---------- budget & settings ----------
export interface Budget {
  monthly_limit: number;
  per_answer_cap: number | null;
  currency: string;
}
export const budgetGet = () => invoke<Budget>("budget_get");
export const budgetSet = (monthlyLimit: number, perAnswerCap: number | null) => invoke<Budget>("budget_set", { monthlyLimit, perAnswerCap });

export interface RemoteSettings {
  endpoint: string; // OpenAI-compatible, up to /v1; "" = none
  model: string;
  input_per_million: number | null; // price override; null = bundled price list
  output_per_million: number | null;
  accuracy: number; // prior P(remote answer right), 0..1
  max_tokens: number;
}
export interface Settings {
  local_model: string;
  context_tokens: number;
  never_escalate: boolean;
  quality_cost: number; // 0 = best quality .. 1 = lowest cost
  device: string; // where the local models run: "auto", "cpu", "cuda" or "cuda:N" (set with the CLI)
  remote: RemoteSettings;
}
export interface KeyStatus {
  set: boolean;
  last4: string | null;
}
export const settingsGet = () => invoke<Settings>("settings_get");
export const settingsSet = (settings: Settings) => invoke<Settings>("settings_set", { settings });
export const keyStatus = () => invoke<KeyStatus>("key_status");
export const keySet = (key: string) => invoke<KeyStatus>("key_set", { key });
export const keyClear = () => invoke<KeyStatus>("key_clear");
