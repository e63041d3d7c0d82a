// The typed IPC contract between the UI and the Tauri shell (src-tauri/src/*/commands.rs).
// Every figure the UI shows comes from these calls; nothing is computed from guesses here.
// Payload fields are snake_case, as the engine serializes them; Tauri maps the camelCase
// argument names below to the commands' snake_case parameters. The payload types are generated
// from the Rust types (./generated/ipc.ts, `make ui-types`), so they are what serde sends.
import { Channel, invoke } from "@tauri-apps/api/core";
import type {
  AnswerView,
  AppStatus,
  AskEvent,
  Budget,
  CatalogModel,
  Conversation,
  DocumentInfo,
  DocumentText,
  Feedback,
  FileReport,
  HistoryPage,
  IndexEvent,
  KeyStatus,
  ModelSpeed,
  PayloadPreview,
  PullEvent,
  Recommendation,
  RouteDecision,
  Settings,
  SpendReport,
} from "./generated/ipc";

/** Every failed command rejects with `AppError`: `code` is stable (`ErrorCode`, generated from
 *  the engine's enum), `message` is for people. */
export type * from "./generated/ipc";

// ---------- app & models ----------
/** Progress of `modelsDownload` (the models crate's `PullEvent`, sent as it is). */
export type PullProgress = PullEvent;

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
export const documentsList = () => invoke<DocumentInfo[]>("documents_list");
export const documentsFolders = () => invoke<string[]>("documents_folders");

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

export const chatConversations = () => invoke<Conversation[]>("chat_conversations");
export const chatConversation = (conversationId: number) => invoke<AnswerView[]>("chat_conversation", { conversationId });
export const chatNewConversation = (title: string) => invoke<number>("chat_new_conversation", { title });
/** documentIds null = the whole library. Rejects with code "busy" when this conversation already has a question running. */
export const chatAsk = (question: string, conversationId: number, documentIds: number[] | null, onEvent: Channel<AskEvent>) =>
  invoke<number>("chat_ask", { question, conversationId, documentIds, onEvent });
export const chatCancel = (conversationId: number) => invoke<void>("chat_cancel", { conversationId });
/** The user asks the remote model for a local answer; charged through the budget like any escalation. */
export const chatEscalate = (questionId: number, onEvent: Channel<AskEvent>) => invoke<AnswerView>("chat_escalate", { questionId, onEvent });
export const chatFeedback = (questionId: number, verdict: Feedback | null) => invoke<void>("chat_feedback", { questionId, verdict });
export const chatPreviewPayload = (question: string, conversationId: number | null, documentIds: number[] | null) =>
  invoke<PayloadPreview>("chat_preview_payload", { question, conversationId, documentIds });

// ---------- history & spend ----------
export const historyList = (escalatedOnly: boolean, search: string) => invoke<HistoryPage>("history_list", { escalatedOnly, search });
export const spendReport = () => invoke<SpendReport>("spend_report");

// ---------- budget & settings ----------
export const budgetGet = () => invoke<Budget>("budget_get");
export const budgetSet = (monthlyLimit: number, perAnswerCap: number | null) => invoke<Budget>("budget_set", { monthlyLimit, perAnswerCap });

export const settingsGet = () => invoke<Settings>("settings_get");
export const settingsSet = (settings: Settings) => invoke<Settings>("settings_set", { settings });
export const keyStatus = () => invoke<KeyStatus>("key_status");
export const keySet = (key: string) => invoke<KeyStatus>("key_set", { key });
export const keyClear = () => invoke<KeyStatus>("key_clear");
