// Generated from the Rust types by src-tauri/src/typescript.rs (ts-rs); do not edit.
// Regenerate with `make ui-types` after changing one of the types.

export type ErrorCode = "cancelled" | "busy" | "internal" | "model_not_ready" | "model_missing" | "model_damaged" | "model_unavailable" | "unknown_model" | "context_overflow" | "model" | "device_unknown" | "device_not_built" | "device_no_gpu" | "device_driver" | "device_architecture" | "device_failed" | "library_empty" | "no_documents_chosen" | "unknown_document" | "no_paths" | "library" | "empty_question" | "unknown_question" | "unknown_conversation" | "already_escalated" | "history" | "budget_exceeded" | "over_answer_cap" | "budget_invalid" | "budget" | "no_remote" | "remote" | "keychain" | "key_empty" | "settings_io" | "settings_corrupt" | "settings_invalid" | "invalid_input" | "router" | "io";

export type AppError = { code: ErrorCode, message: string, };

export type RouteDecision = "local" | "escalate" | "stay_local_budget" | "stay_local";
