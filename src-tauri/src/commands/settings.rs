//! The settings file and the API key. The key goes to the OS keychain and never comes back to the
//! UI: only whether one is set, and its last four characters.

use automix::remote::ApiKey;
use automix::settings::Settings;
use automix::types::ErrorCode;
use serde::Serialize;

use super::Shared;
use crate::error::{blocking, AppError};
use crate::state::{AppState, LocalApiStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct KeyStatus {
    pub set: bool,
    pub last4: Option<String>,
}

/// The last four characters of a key long enough that they give nothing away.
pub fn status_of(key: Option<&ApiKey>) -> KeyStatus {
    let last4 = key.map(|key| key.expose()).filter(|key| key.chars().count() >= 12).map(|key| {
        let chars: Vec<char> = key.chars().collect();
        chars[chars.len() - 4..].iter().collect()
    });
    KeyStatus { set: key.is_some(), last4 }
}

#[tauri::command]
pub async fn settings_get(state: Shared<'_>) -> Result<Settings, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(Settings::load(&state.assistant.paths().home)?)).await
}

/// Saves the settings and applies them at once (remote model, router preferences); a changed
/// local model starts loading in the background.
#[tauri::command]
pub async fn settings_set(state: Shared<'_>, settings: Settings) -> Result<Settings, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let _lock = state.settings_lock.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let home = &state.assistant.paths().home;
        let previous = Settings::load(home).unwrap_or_default();
        settings.save(home)?;
        if previous.local_model != settings.local_model {
            let loader = state.clone();
            std::thread::spawn(move || loader.load_chat_model());
        }
        // Applied under the lock, so two saves take effect in the order they were written.
        state.assistant.apply_settings(&settings)?;
        // Saved even when the port is taken: the error says so, and Settings shows it.
        state.apply_local_api(&settings.local_api)?;
        Ok(settings)
    })
    .await
}

fn reload_remote(state: &AppState) -> Result<(), AppError> {
    let settings = Settings::load(&state.assistant.paths().home)?;
    Ok(state.assistant.apply_settings(&settings)?)
}

#[tauri::command]
pub async fn key_status(state: Shared<'_>) -> Result<KeyStatus, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(status_of(state.assistant.paths().key_store().load()?.map(|(key, _)| key).as_ref()))).await
}

#[tauri::command]
pub async fn key_set(state: Shared<'_>, key: String) -> Result<KeyStatus, AppError> {
    let key = ApiKey::new(key);
    if key.expose().is_empty() {
        return Err(AppError::new(ErrorCode::KeyEmpty, "paste the API key first"));
    }
    let state = state.inner().clone();
    blocking(move || {
        state.assistant.paths().key_store().save(&key)?;
        reload_remote(&state)?;
        Ok(status_of(Some(&key)))
    })
    .await
}

#[tauri::command]
pub async fn key_clear(state: Shared<'_>) -> Result<KeyStatus, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        state.assistant.paths().key_store().delete()?;
        reload_remote(&state)?;
        Ok(status_of(None))
    })
    .await
}

/// Whether the local API runs, at which address, and why not when it failed to start.
#[tauri::command]
pub async fn local_api_status(state: Shared<'_>) -> Result<LocalApiStatus, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.local_api_status())).await
}

/// The local API's access token, shown when the user asks to see or copy it (other programs on
/// this computer need it); made and stored in the OS keychain the first time.
#[tauri::command]
pub async fn local_api_token(state: Shared<'_>) -> Result<String, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(automix_serve::stored_token(&state.assistant.paths().local_api_token_store())?.0)).await
}

/// Replaces the local API's access token; clients using the old one are refused from now on.
#[tauri::command]
pub async fn local_api_new_token(state: Shared<'_>) -> Result<LocalApiStatus, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        state.renew_local_api_token()?;
        Ok(state.local_api_status())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_status_shows_at_most_the_last_four_characters() {
        assert_eq!(status_of(None), KeyStatus { set: false, last4: None });
        let long = ApiKey::new("sk-test-0123456789abcd");
        assert_eq!(status_of(Some(&long)), KeyStatus { set: true, last4: Some("abcd".into()) });
        let short = ApiKey::new("abc123");
        assert_eq!(status_of(Some(&short)).last4, None, "a short key would be half revealed");
        let json = serde_json::to_string(&status_of(Some(&long))).unwrap();
        assert!(!json.contains("sk-test"), "{json}");
    }
}
