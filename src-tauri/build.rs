// The app's own commands get permissions generated (allow-<command>), so the capability file
// grants each one by name, like any plugin permission: least privilege for the web view.
const COMMANDS: &[&str] = &[
    "app_status",
    "models_list",
    "models_download",
    "models_cancel_download",
    "models_activate",
    "models_measure",
    "models_calibrate",
    "models_cancel_calibration",
    "models_forget_learning",
    "models_recommend",
    "documents_list",
    "documents_folders",
    "documents_text",
    "documents_add",
    "documents_remove",
    "documents_sync",
    "documents_cancel",
    "chat_conversations",
    "chat_conversation",
    "chat_new_conversation",
    "chat_ask",
    "chat_cancel",
    "chat_escalate",
    "chat_feedback",
    "chat_preview_payload",
    "history_list",
    "spend_report",
    "budget_get",
    "budget_set",
    "settings_get",
    "settings_set",
    "key_status",
    "key_set",
    "key_clear",
];

fn main() {
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)))
        .expect("the Tauri build step (config, capabilities, icons) failed");
}
