// The typed IPC contract between the UI and the Tauri shell (src-tauri/src/commands/*.rs).
// Every figure the UI shows comes from these calls; nothing is computed from guesses here.
// Both halves are generated from the Rust side (`make ui-types`), so they are what the shell
// accepts and what serde sends: the payload types (./generated/ipc.ts, from the Rust types with
// ts-rs) and one `invoke` wrapper per command (./generated/commands.ts, from the commands'
// signatures and doc comments: camelCase argument names, which Tauri maps to the snake_case
// parameters). Payload fields are snake_case, as the engine serializes them.
import type { PullEvent, RouteDecision } from "./generated/ipc";

/** Every failed command rejects with `AppError`: `code` is stable (`ErrorCode`, generated from
 *  the engine's enum), `message` is for people. */
export type * from "./generated/ipc";
export * from "./generated/commands";

// ---------- app & models ----------
/** Progress of `modelsDownload` (the models crate's `PullEvent`, sent as it is). */
export type PullProgress = PullEvent;
/** Tauri event (payload: the model id) when a speed measurement ended, e.g. the one after a download. */
export const MODEL_SPEED_EVENT = "model-speed";
/** Tauri event (payload: CalibrationEvent) as a calibration run moves on and when it ends. */
export const MODEL_CALIBRATION_EVENT = "model-calibration";

// ---------- documents ----------
/** Tauri event emitted (listen from "@tauri-apps/api/event") when the folder watcher changed the library. */
export const DOCUMENTS_CHANGED_EVENT = "documents-changed";

// ---------- chat ----------
/** What the router decided: the same words in the live event, the stored row and the CLI. */
export type Decision = RouteDecision;
