//! Conversations and questions: ask (streamed), cancel, escalate on request, feedback, preview.

use automix::assistant::{AnswerView, AskEvent, PayloadPreview, PendingApproval, Scope};
use automix::history::{Conversation, Feedback};
use automix::types::ErrorCode;
use tauri::ipc::Channel;

use super::Shared;
use crate::error::{blocking, AppError};

#[tauri::command]
pub async fn chat_conversations(state: Shared<'_>) -> Result<Vec<Conversation>, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.history().conversations()?)).await
}

#[tauri::command]
pub async fn chat_conversation(state: Shared<'_>, conversation_id: i64) -> Result<Vec<AnswerView>, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.conversation_answers(conversation_id)?)).await
}

#[tauri::command]
pub async fn chat_new_conversation(state: Shared<'_>, title: String) -> Result<i64, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.new_conversation(&title)?)).await
}

fn scope(document_ids: Option<Vec<i64>>) -> Scope {
    document_ids.map_or(Scope::Library, Scope::Documents)
}

/// Answers a question, streaming every stage to `on_event`; resolves with the question's id.
/// `document_ids` null searches the whole library. Rejects with code `busy` when this
/// conversation already has a question running.
#[tauri::command]
pub async fn chat_ask(
    state: Shared<'_>,
    question: String,
    conversation_id: i64,
    document_ids: Option<Vec<i64>>,
    on_event: Channel<AskEvent>,
) -> Result<i64, AppError> {
    if question.trim().is_empty() {
        return Err(AppError::new(ErrorCode::EmptyQuestion, "type a question first"));
    }
    let state = state.inner().clone();
    blocking(move || {
        let guard = state.begin_question(conversation_id)?;
        let scope = scope(document_ids);
        // A closed window drops the channel; the answer is still recorded.
        Ok(state.assistant.ask(question.trim(), &scope, conversation_id, &mut |event| drop(on_event.send(event)), &guard.cancel)?)
    })
    .await
}

#[tauri::command]
pub fn chat_cancel(state: Shared<'_>, conversation_id: i64) {
    state.cancel_question(conversation_id);
}

/// Sends a local answer's question to the remote model because the user asked for it.
#[tauri::command]
pub async fn chat_escalate(state: Shared<'_>, question_id: i64, on_event: Channel<AskEvent>) -> Result<AnswerView, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let conversation_id = state.assistant.history().question(question_id)?.record.conversation_id;
        let guard = state.begin_question(conversation_id)?;
        Ok(state.assistant.escalate(question_id, &mut |event| drop(on_event.send(event)), &guard.cancel)?)
    })
    .await
}

/// Exactly what approving a pending escalation would send now, without the passages at
/// `excluded` (positions among the answer's citations): messages, tokens, worst case, provider.
#[tauri::command]
pub async fn chat_pending(state: Shared<'_>, question_id: i64, excluded: Vec<usize>) -> Result<PendingApproval, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.pending_approval(question_id, &excluded)?)).await
}

/// Sends a pending escalation the user approved, without the passages at `excluded`; rejects
/// with code only_private_passages when nothing shareable is left, busy while the conversation
/// has a question running.
#[tauri::command]
pub async fn chat_send_approved(state: Shared<'_>, question_id: i64, excluded: Vec<usize>, on_event: Channel<AskEvent>) -> Result<AnswerView, AppError> {
    let state = state.inner().clone();
    blocking(move || {
        let conversation_id = state.assistant.history().question(question_id)?.record.conversation_id;
        let guard = state.begin_question(conversation_id)?;
        Ok(state.assistant.send_approved(question_id, &excluded, &mut |event| drop(on_event.send(event)), &guard.cancel)?)
    })
    .await
}

/// Keeps a pending escalation's local answer; nothing is sent.
#[tauri::command]
pub async fn chat_keep_local(state: Shared<'_>, question_id: i64) -> Result<AnswerView, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.keep_local(question_id)?)).await
}

#[tauri::command]
pub async fn chat_feedback(state: Shared<'_>, question_id: i64, verdict: Option<Feedback>) -> Result<(), AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.feedback(question_id, verdict)?)).await
}

/// Exactly what escalating `question` would send, without sending it.
#[tauri::command]
pub async fn chat_preview_payload(
    state: Shared<'_>,
    question: String,
    conversation_id: Option<i64>,
    document_ids: Option<Vec<i64>>,
) -> Result<PayloadPreview, AppError> {
    let state = state.inner().clone();
    blocking(move || Ok(state.assistant.preview_payload(question.trim(), conversation_id, &scope(document_ids))?)).await
}
