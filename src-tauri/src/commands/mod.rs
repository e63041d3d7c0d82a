//! The commands the UI invokes, one module per domain. Each is a thin typed wrapper: arguments in,
//! one engine call on the blocking pool, `Result<T, AppError>` out.

pub mod budget;
pub mod chat;
pub mod documents;
pub mod history;
pub mod models;
pub mod settings;

use std::sync::Arc;

use crate::state::AppState;

type Shared<'a> = tauri::State<'a, Arc<AppState>>;
