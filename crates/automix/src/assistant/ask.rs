//! One question: retrieve → answer locally → self-verify → route → (escalate) → record; and the
//! escalation a user asks for later, and the preview of what an escalation would send.

use std::time::Instant;

use automix_budget::{advise, worst_case_cost, BudgetAdvice, Cost};
use automix_docs::{SearchHit, TokenCounter};
use automix_history::{Escalation, LocalAnswer, QuestionRecord, RouteDecision, Routing};
use automix_llm::LocalModel;
use automix_remote::{CancelFlag, EscalationPayload, RemoteError};
use automix_router::SignalValues;
use automix_types::ErrorCode;
use tracing::field::Empty;

use super::observe::Observation;
use super::privacy::{self, BuiltPayload, Passage, PrivateDocuments, Withheld};
use super::report::text_citation;
use super::report::{PendingApproval, PendingPassage};
use super::{ensure_not_cancelled, lock, read, AnswerSource, AnswerView, AskError, AskEvent, Assistant, PayloadPreview, RemoteModel, Scope};
use crate::prompts::Turn;

/// Earlier turns may take at most this share of the context budget; the documents need the rest.
const EARLIER_TURNS_SHARE: usize = 4;
/// And at most this many turns: older ones rarely carry the referent of a follow-up.
const MAX_EARLIER_TURNS: usize = 3;

/// How one question may be answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AskOptions {
    /// Keep the answer on this device whatever the router thinks (it is still verified and
    /// recorded with the router's confidence).
    pub local_only: bool,
}

/// A stored answer's escalation, ready to preview or send.
struct EscalationRequest {
    record: automix_history::QuestionRecord,
    remote: std::sync::Arc<RemoteModel>,
    built: BuiltPayload,
    passages: Vec<PendingPassage>,
}

/// What the router decided, in the forms the events, the history and the escalation need.
struct Route {
    routing: Routing,
    remote: Option<std::sync::Arc<RemoteModel>>,
    /// Whether the router that decided is calibrated for the model in use.
    calibrated: bool,
}

impl Assistant {
    /// Answers `question`, reporting each stage through `on_event`. Checks `cancel` between stages
    /// and while generating; a cancelled question records nothing and charges nothing.
    ///
    /// Traced as a `question` span (the conversation, then the question's id, the decision, the
    /// cost and the time taken) with one child span per stage: `retrieve`, `answer`, `verify`,
    /// `route` (whose event says the decision and its reason), and `escalate` and `settle` when
    /// it escalates. No span or event carries the question, the documents or the answers.
    pub fn ask(&self, question: &str, scope: &Scope, conversation_id: i64, on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<i64, AskError> {
        self.ask_with(question, scope, conversation_id, AskOptions::default(), on_event, cancel)
    }

    /// [`Assistant::ask`] with per-question options (the local API's `automix-local` model keeps
    /// every answer on this device).
    pub fn ask_with(
        &self,
        question: &str,
        scope: &Scope,
        conversation_id: i64,
        options: AskOptions,
        on_event: &mut dyn FnMut(AskEvent),
        cancel: &CancelFlag,
    ) -> Result<i64, AskError> {
        let span = tracing::info_span!("question", conversation_id, question_id = Empty, decision = Empty, cost = Empty, latency_ms = Empty);
        let _entered = span.enter();
        let started = Instant::now();
        let result = self.ask_traced(question, scope, conversation_id, options, on_event, cancel);
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(question_id) => {
                span.record("question_id", question_id);
                tracing::info!("question answered and recorded");
            }
            Err(error) if error.code() == ErrorCode::Cancelled => tracing::info!("question cancelled; nothing recorded or charged"),
            Err(error) => tracing::info!(code = %error.code(), "question failed: {error}"),
        }
        result
    }

    fn ask_traced(
        &self,
        question: &str,
        scope: &Scope,
        conversation_id: i64,
        options: AskOptions,
        on_event: &mut dyn FnMut(AskEvent),
        cancel: &CancelFlag,
    ) -> Result<i64, AskError> {
        // The `question` span `ask_with` entered.
        let span = tracing::Span::current();
        let started = Instant::now();
        let observation = self.observe(question, scope, Some(conversation_id), on_event, cancel)?;
        let built = observation.escalation_payload(question);
        let Observation { hits, model_name, answer: local, answer_ms: local_ms, verification, signals, checks_ms, .. } = observation;
        let currency = self.ledger.settings()?.currency;
        let route = self.route_traced(&signals, &built.payload, built.withheld, options, &currency)?;
        span.record("decision", route.routing.decision.as_str());
        on_event(AskEvent::Routed {
            decision: route.routing.decision,
            reason: route.routing.reason.clone(),
            local_confidence: route.routing.local_confidence.unwrap_or_default(),
            estimated_cost: route.routing.estimated_cost.map(|c| c.as_units()),
            currency: currency.clone(),
            remote_model: route.remote.as_ref().map(|remote| remote.model.clone()),
            signals: Box::new(signals.clone()),
            calibrated: route.calibrated,
        });
        ensure_not_cancelled(cancel)?;

        let mut answer = (local.text.clone(), AnswerSource::Local);
        let escalation = match (route.routing.decision, &route.remote, route.routing.estimated_cost) {
            (RouteDecision::Escalate, Some(remote), Some(worst_case)) => {
                let escalation = self.call_remote(remote, &built, worst_case, &currency, on_event, cancel)?;
                if let Some(text) = &escalation.answer {
                    answer = (text.clone(), AnswerSource::Remote);
                }
                Some(escalation)
            }
            _ => None,
        };
        let cost = escalation.as_ref().map(|e| e.cost.as_units()).unwrap_or(0.0);
        span.record("cost", cost);
        let learns = escalation.as_ref().is_some_and(|e| e.answer.is_some());
        let record = QuestionRecord {
            conversation_id,
            asked_at_ms: automix_budget::now_ms(),
            question: question.to_string(),
            citations: hits.iter().map(to_stored_citation).collect(),
            local: LocalAnswer {
                model: model_name,
                text: local.text.clone(),
                verifier_value: Some(verification.v),
                latency_ms: local_ms,
                verify_latency_ms: checks_ms,
            },
            routing: route.routing,
            escalation,
            total_latency_ms: started.elapsed().as_millis() as u64,
        };
        let question_id = self.history.record(&record)?;
        if learns {
            // The remote answer judges the local one: the router learns from it now, not at the next start.
            self.relearn()?;
        }
        on_event(AskEvent::Done { answer: answer.0, source: answer.1, cost, currency, question_id });
        Ok(question_id)
    }

    /// Sends an answered question to the remote model because the user asked for it: the same
    /// passages and earlier turns as the local answer had, reserved and settled through the ledger.
    /// Traced as an `escalation_request` span with the `escalate` and `settle` spans inside.
    pub fn escalate(&self, question_id: i64, on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<AnswerView, AskError> {
        let span = tracing::info_span!("escalation_request", question_id);
        let _entered = span.enter();
        let result = self.escalate_traced(question_id, &[], on_event, cancel);
        match &result {
            Ok(view) => tracing::info!(cost = view.cost, "escalation on request recorded"),
            Err(error) if error.code() == ErrorCode::Cancelled => tracing::info!("escalation on request cancelled; nothing recorded or charged"),
            Err(error) => tracing::info!(code = %error.code(), "escalation on request failed: {error}"),
        }
        result
    }

    fn escalate_traced(&self, question_id: i64, excluded: &[usize], on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<AnswerView, AskError> {
        let request = self.escalation_request(question_id, excluded)?;
        let EscalationRequest { record, remote, built, .. } = request;
        let withheld = built.withheld;
        if withheld.every_passage {
            tracing::info!(withheld = withheld.passages, "escalation on request refused: every passage is private");
            return Err(AskError::OnlyPrivatePassages);
        }
        let worst_case = worst_case_cost(&built.payload, remote.max_tokens, &remote.price);
        let currency = self.ledger.settings()?.currency;
        let escalation = self.call_remote(&remote, &built, worst_case, &currency, on_event, cancel)?;
        let mut reason = if record.routing.decision == RouteDecision::AwaitingApproval {
            format!("you approved sending it to {} (the router had said: {})", remote.model, record.routing.reason)
        } else {
            format!("you asked {} for this answer (the router had said: {})", remote.model, record.routing.reason)
        };
        if !excluded.is_empty() {
            reason.push_str(&format!("; you left out {} of its passages", excluded.len()));
        }
        if let Some(note) = withheld.note() {
            reason.push_str(&format!("; {note}"));
        }
        let routing = Routing { decision: RouteDecision::Escalate, reason, estimated_cost: Some(worst_case), ..record.routing.clone() };
        self.history.attach_escalation(question_id, &routing, &escalation, automix_budget::now_ms())?;
        self.relearn()?;
        let (answer, source) = match &escalation.answer {
            Some(text) => (text.clone(), AnswerSource::Remote),
            None => (record.local.text.clone(), AnswerSource::Local),
        };
        on_event(AskEvent::Done { answer, source, cost: escalation.cost.as_units(), currency, question_id });
        Ok(AnswerView::from_stored(&self.history.question(question_id)?))
    }

    /// What sending an answered question to the remote model would send now: its passages (less
    /// those at the `excluded` positions of its citations, and the private ones) and its earlier
    /// turns, to the remote model configured now.
    fn escalation_request(&self, question_id: i64, excluded: &[usize]) -> Result<EscalationRequest, AskError> {
        let stored = self.history.question(question_id)?;
        if stored.record.escalation.as_ref().is_some_and(|escalation| escalation.answer.is_some()) {
            return Err(AskError::AlreadyEscalated(question_id));
        }
        let remote = read(&self.remote).clone().ok_or(AskError::NoRemote)?;
        let record = stored.record;
        if let Some(&outside) = excluded.iter().find(|&&index| index >= record.citations.len()) {
            return Err(AskError::NoSuchPassage { index: outside, passages: record.citations.len() });
        }
        let private = self.private_documents()?;
        let (earlier, _) = match self.model() {
            Ok(model) => self.earlier_turns(record.conversation_id, Some(question_id), &*model, &private)?,
            Err(_) => self.earlier_turns(record.conversation_id, Some(question_id), &automix_docs::WordTokenEstimate, &private)?,
        };
        let passages: Vec<PendingPassage> = record
            .citations
            .iter()
            .enumerate()
            .map(|(index, citation)| PendingPassage {
                index,
                source: passage_label(citation),
                private: private.holds(citation.location.as_ref()),
                left_out: excluded.contains(&index),
            })
            .collect();
        let sent = record.citations.iter().zip(&passages).filter(|(_, passage)| !passage.left_out).map(|(citation, passage)| Passage {
            source: passage.source.clone(),
            text: citation.text.clone(),
            private: passage.private,
        });
        let built = privacy::payload(&record.question, sent, &earlier, &self.config().redaction);
        Ok(EscalationRequest { record, remote, built, passages })
    }

    /// What approving a pending escalation (or asking the remote model for an answer) would send
    /// now, leaving out the passages at `excluded`: the exact messages, about how many tokens,
    /// the worst-case cost and the provider. Sends nothing.
    pub fn pending_approval(&self, question_id: i64, excluded: &[usize]) -> Result<PendingApproval, AskError> {
        let EscalationRequest { remote, built, passages, .. } = self.escalation_request(question_id, excluded)?;
        let messages = built.messages_sent();
        Ok(PendingApproval {
            question_id,
            model: remote.model.clone(),
            host: remote.client.host(),
            tokens: messages.iter().map(|message| automix_types::estimate_tokens(&message.content)).sum(),
            worst_case_cost: worst_case_cost(&built.payload, remote.max_tokens, &remote.price).as_units(),
            currency: self.ledger.settings()?.currency,
            messages,
            passages,
            withheld: built.withheld.note(),
            only_private: built.withheld.every_passage,
            masked: built.masked.note(),
        })
    }

    /// Sends a pending escalation the user approved, without the passages at `excluded`.
    pub fn send_approved(&self, question_id: i64, excluded: &[usize], on_event: &mut dyn FnMut(AskEvent), cancel: &CancelFlag) -> Result<AnswerView, AskError> {
        let span = tracing::info_span!("approved_escalation", question_id, left_out = excluded.len());
        let _entered = span.enter();
        let result = self.escalate_traced(question_id, excluded, on_event, cancel);
        match &result {
            Ok(view) => tracing::info!(cost = view.cost, "approved escalation recorded"),
            Err(error) => tracing::info!(code = %error.code(), "approved escalation not sent: {error}"),
        }
        result
    }

    /// Keeps a pending escalation's local answer: nothing is sent, and the badge says the user chose it.
    pub fn keep_local(&self, question_id: i64) -> Result<AnswerView, AskError> {
        let stored = self.history.question(question_id)?;
        if stored.record.escalation.as_ref().is_some_and(|escalation| escalation.answer.is_some()) {
            return Err(AskError::AlreadyEscalated(question_id));
        }
        let routing = &stored.record.routing;
        if routing.decision == RouteDecision::AwaitingApproval {
            let kept = Routing {
                decision: RouteDecision::StayLocal,
                reason: format!("you kept it on this device; nothing was sent (the router had said: {})", routing.reason),
                ..routing.clone()
            };
            self.history.update_routing(question_id, &kept)?;
            tracing::info!(question_id, "pending escalation kept local");
        }
        Ok(AnswerView::from_stored(&self.history.question(question_id)?))
    }

    /// Exactly what escalating `question` would send now, without sending it (or answering it).
    pub fn preview_payload(&self, question: &str, conversation_id: Option<i64>, scope: &Scope) -> Result<PayloadPreview, AskError> {
        let model = self.model()?;
        let private = self.private_documents()?;
        let (earlier, earlier_tokens) = match conversation_id {
            Some(id) => self.earlier_turns(id, None, &*model, &private)?,
            None => (Vec::new(), 0),
        };
        let budget = self.config().context_budget_tokens.saturating_sub(earlier_tokens);
        let hits = match self.retrieve(question, scope, &model, budget) {
            Ok(hits) => hits,
            Err(AskError::EmptyLibrary) => Vec::new(),
            Err(other) => return Err(other),
        };
        let passages = hits.iter().map(|hit| Passage::of_hit(hit, &private));
        let built = privacy::payload(question, passages, &earlier, &self.config().redaction);
        let remote = read(&self.remote).clone();
        Ok(PayloadPreview {
            model: remote.as_ref().map(|remote| remote.model.clone()),
            worst_case_cost: remote.as_ref().map(|remote| worst_case_cost(&built.payload, remote.max_tokens, &remote.price).as_units()),
            currency: self.ledger.settings()?.currency,
            messages: built.messages_sent(),
            withheld: built.withheld.note(),
            only_private: built.withheld.every_passage,
            masked: built.masked.note(),
        })
    }

    /// The conversation's turns before `before` (or all of them), newest kept first, within
    /// their share of the context budget; oldest first in the result, with the tokens they take
    /// (which the documents then do not get).
    /// A turn that read a document of `private` is marked so (`Turn::read_private`).
    pub(super) fn earlier_turns(
        &self,
        conversation_id: i64,
        before: Option<i64>,
        counter: &dyn TokenCounter,
        private: &PrivateDocuments,
    ) -> Result<(Vec<Turn>, usize), AskError> {
        let budget = self.config().context_budget_tokens / EARLIER_TURNS_SHARE;
        let mut used = 0;
        let mut turns = Vec::new();
        for stored in self.history.conversation(conversation_id)?.iter().rev() {
            if before.is_some_and(|before| stored.id >= before) {
                continue;
            }
            let record = &stored.record;
            let answer = record.escalation.as_ref().and_then(|e| e.answer.clone()).unwrap_or_else(|| record.local.text.clone());
            let read_private = record.citations.iter().any(|citation| private.holds(citation.location.as_ref()));
            let turn = Turn { question: record.question.clone(), answer, read_private };
            let tokens = counter.count_tokens(&turn.question) + counter.count_tokens(&turn.answer);
            if used + tokens > budget || turns.len() == MAX_EARLIER_TURNS {
                break;
            }
            used += tokens;
            turns.push(turn);
        }
        turns.reverse();
        Ok((turns, used))
    }

    /// The passages for `question` within `budget` tokens, traced as a `retrieve` span.
    pub(super) fn retrieve(&self, question: &str, scope: &Scope, model: &LocalModel, budget: usize) -> Result<Vec<SearchHit>, AskError> {
        let scope_name = match scope {
            Scope::Library => "library",
            Scope::Documents(_) => "documents",
            Scope::Text { .. } => "text",
        };
        let span = tracing::info_span!("retrieve", scope = scope_name, budget_tokens = budget, hits = Empty, tokens = Empty, latency_ms = Empty);
        let _entered = span.enter();
        let started = Instant::now();
        let hits = self.retrieve_untraced(question, scope, model, budget)?;
        span.record("hits", hits.len());
        span.record("tokens", hits.iter().map(|hit| hit.token_count).sum::<usize>());
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        tracing::info!("retrieved");
        Ok(hits)
    }

    fn retrieve_untraced(&self, question: &str, scope: &Scope, model: &LocalModel, budget: usize) -> Result<Vec<SearchHit>, AskError> {
        let documents = match scope {
            Scope::Library => None,
            Scope::Documents(ids) if ids.is_empty() => return Err(AskError::NoDocumentsChosen),
            Scope::Documents(ids) => Some(ids.as_slice()),
            Scope::Text { source, text } => return Ok(vec![whole_text_hit(source, text, budget, model)?]),
        };
        let embedder = self.embedder()?;
        let mut library = lock(&self.search);
        if library.chunk_count()? == 0 {
            return Err(AskError::EmptyLibrary);
        }
        Ok(library.retrieve_from(&embedder, question, budget, model, documents)?)
    }

    /// `route`, traced as a `route` span whose event says the decision and its reason.
    fn route_traced(
        &self,
        signals: &SignalValues,
        payload: &EscalationPayload,
        withheld: Withheld,
        options: AskOptions,
        currency: &str,
    ) -> Result<Route, AskError> {
        let span = tracing::info_span!(
            "route",
            decision = Empty,
            local_confidence = Empty,
            estimated_cost = Empty,
            currency,
            lambda = Empty,
            calibrated = Empty,
            remote_model = Empty
        );
        let _entered = span.enter();
        let route = self.route(signals, payload, withheld, options)?;
        let routing = &route.routing;
        span.record("decision", routing.decision.as_str());
        if let Some(confidence) = routing.local_confidence {
            span.record("local_confidence", confidence);
        }
        if let Some(cost) = routing.estimated_cost {
            span.record("estimated_cost", cost.as_units());
        }
        if let Some(lambda) = routing.lambda {
            span.record("lambda", lambda);
        }
        span.record("calibrated", route.calibrated);
        if let Some(remote) = &route.remote {
            span.record("remote_model", remote.model.as_str());
        }
        tracing::info!(decision = routing.decision.as_str(), reason = %routing.reason, "routed");
        Ok(route)
    }

    /// The routing record and decision, with the router's confidence in the local answer. An
    /// answer read only from private documents stays local whatever the router would say.
    fn route(&self, signals: &SignalValues, payload: &EscalationPayload, withheld: Withheld, options: AskOptions) -> Result<Route, AskError> {
        let router = read(&self.router);
        let local_confidence = router.local_confidence(signals);
        let mut likely = format!("the local answer is estimated {:.0}% likely right", local_confidence * 100.0);
        if !router.calibrated() {
            likely.push_str(" (the router is not calibrated for this model yet and rates it like SmolLM2-135M, so it escalates more than needed; Settings → Local models or `automix calibrate --model ID` fits it)");
        }
        let remote = read(&self.remote).clone();
        let config = self.config();
        // The price of escalating is recorded even when it is not weighed: the spend report
        // counts what sending everything to the remote model would have cost.
        let stay = |reason: String, remote: Option<std::sync::Arc<RemoteModel>>| Route {
            routing: Routing {
                decision: RouteDecision::StayLocal,
                reason,
                expected_utilities: Default::default(),
                lambda: None,
                estimated_cost: remote.as_ref().map(|remote| worst_case_cost(payload, remote.max_tokens, &remote.price)),
                local_confidence: Some(local_confidence),
            },
            remote,
            calibrated: router.calibrated(),
        };
        let Some(remote) = remote else {
            return Ok(stay(format!("no remote model is configured, so the local answer is kept; {likely}"), None));
        };
        if withheld.every_passage {
            return Ok(stay(format!("every passage this answer read is in a private document, which never leaves this device; {likely}"), Some(remote)));
        }
        if options.local_only {
            return Ok(stay(format!("this request asked for the local model only; {likely}"), Some(remote)));
        }
        if config.never_escalate {
            return Ok(stay(format!("escalation is switched off in the settings; {likely}"), Some(remote)));
        }
        let worst_case = worst_case_cost(payload, remote.max_tokens, &remote.price);
        let status = self.ledger.month_status()?;
        let (lambda, budget_note) = match advise(&status, &config.cost_preference, worst_case) {
            BudgetAdvice::Route { lambda, .. } => (lambda, None),
            BudgetAdvice::StayLocal { reason } => (config.cost_preference.neutral_lambda, Some(reason)),
        };
        let plan = router.plan(signals, worst_case.as_units(), remote.accuracy, lambda)?;
        let (decision, reason) = match (plan.escalate, budget_note) {
            (false, _) => (RouteDecision::Local, format!("{likely}; escalating would not pay off at up to {} {}", worst_case, status.currency)),
            (true, Some(note)) => (RouteDecision::StayLocalBudget, format!("{note}; {likely}")),
            (true, None) if config.ask_before_sending.asks(worst_case.as_units(), config.ask_above) => (
                RouteDecision::AwaitingApproval,
                format!(
                    "the local answer is estimated only {:.0}% likely right; {} is expected to do better for at most {} {}; nothing is sent until you approve it{}",
                    local_confidence * 100.0,
                    remote.model,
                    worst_case,
                    status.currency,
                    withheld.note().map(|note| format!("; {note}")).unwrap_or_default()
                ),
            ),
            (true, None) => (
                RouteDecision::Escalate,
                format!(
                    "the local answer is estimated only {:.0}% likely right; {} is expected to do better for at most {} {}{}",
                    local_confidence * 100.0,
                    remote.model,
                    worst_case,
                    status.currency,
                    withheld.note().map(|note| format!("; {note}")).unwrap_or_default()
                ),
            ),
        };
        Ok(Route {
            routing: Routing {
                decision,
                reason,
                expected_utilities: plan.expected_utilities,
                lambda: Some(lambda),
                estimated_cost: Some(worst_case),
                local_confidence: Some(local_confidence),
            },
            remote: Some(remote),
            calibrated: router.calibrated(),
        })
    }

    /// Reserves the worst case, calls the remote model, settles what it used. A failed call is
    /// an `Escalation` with its error (the local answer stands); only a cancel is an error.
    fn call_remote(
        &self,
        remote: &RemoteModel,
        built: &BuiltPayload,
        worst_case: Cost,
        currency: &str,
        on_event: &mut dyn FnMut(AskEvent),
        cancel: &CancelFlag,
    ) -> Result<Escalation, AskError> {
        let started = Instant::now();
        let escalate_span = tracing::info_span!(
            "escalate",
            model = remote.model.as_str(),
            estimated_cost = worst_case.as_units(),
            currency,
            max_tokens = remote.max_tokens,
            passages = built.payload.chunks.len(),
            reservation = Empty,
            prompt_tokens = Empty,
            completion_tokens = Empty,
            usage_estimated = Empty,
            latency_ms = Empty
        );
        let escalating = escalate_span.enter();
        let payload = &built.payload;
        let reservation = self.ledger.reserve(worst_case, &payload.question).inspect_err(|error| tracing::info!("no reservation, no remote call: {error}"))?;
        escalate_span.record("reservation", reservation.id());
        let mut requests = Vec::new();
        let outcome = remote.client.chat_stream(
            payload,
            remote.max_tokens,
            |text| on_event(AskEvent::RemoteToken { text: text.to_string() }),
            &mut |request| requests.push(request),
            cancel,
        );
        escalate_span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &outcome {
            Ok(answer) => {
                escalate_span.record("prompt_tokens", answer.usage.prompt_tokens);
                escalate_span.record("completion_tokens", answer.usage.completion_tokens);
                escalate_span.record("usage_estimated", answer.usage_estimated);
                tracing::info!("the remote model answered");
            }
            Err(RemoteError::Cancelled { .. }) => tracing::info!("the remote call was cancelled"),
            Err(error) => tracing::warn!("the remote model failed; the local answer stands: {error}"),
        }
        drop(escalating);

        let settle_span =
            tracing::info_span!("settle", reservation = reservation.id(), reserved = worst_case.as_units(), currency, outcome = Empty, charged = Empty);
        let settling = settle_span.enter();
        let answered = outcome.as_ref().ok().map(|answer| answer.usage);
        settle_span.record("outcome", if answered.is_some() { "settled" } else { "released" });
        let cost = reservation
            .settle_outcome(answered, &remote.price)
            .inspect_err(|error| tracing::warn!("closing the reservation failed; it stays booked until the app next opens the ledger: {error}"))?;
        settle_span.record("charged", cost.as_units());
        tracing::info!("reservation closed");
        drop(settling);
        self.log_requests(requests, cost, currency);
        // Only a call the cancel actually stopped is a cancel; an answer that arrived (and was
        // paid for) just before is recorded.
        if matches!(outcome, Err(RemoteError::Cancelled { .. })) {
            return Err(AskError::Cancelled);
        }
        let (answer, usage, usage_estimated, error) = match outcome {
            // The user reads the answer with the masked text put back; the payload stays as sent.
            Ok(answer) => (Some(built.masked.restore(&answer.text)), Some(answer.usage), answer.usage_estimated, None),
            Err(error) => {
                on_event(AskEvent::RemoteFailed { message: error.to_string() });
                (None, None, false, Some(error.to_string()))
            }
        };
        Ok(Escalation {
            model: remote.model.clone(),
            payload: payload.clone(),
            answer,
            usage,
            usage_estimated,
            cost,
            currency: currency.to_string(),
            latency_ms: started.elapsed().as_millis() as u64,
            error,
        })
    }
}

impl Assistant {
    /// Writes an escalation's HTTP attempts to the network log: the answered attempt carries what
    /// the escalation cost, failed ones nothing. A log that cannot be written does not fail the
    /// answer the user already paid for; it is reported in the diagnostics.
    fn log_requests(&self, mut requests: Vec<automix_types::NetworkRequest>, cost: Cost, currency: &str) {
        if let Some(answered) = requests.iter_mut().rev().find(|request| request.error.is_none()) {
            answered.cost = cost.as_units();
        }
        for request in &mut requests {
            request.currency = Some(currency.to_string());
        }
        if let Err(error) = self.history.record_network(&requests) {
            tracing::warn!(requests = requests.len(), "the network log could not be written: {error}");
        }
    }
}

/// A given text as the one passage, cut to the context budget.
fn whole_text_hit(source: &str, text: &str, budget: usize, model: &LocalModel) -> Result<SearchHit, AskError> {
    let tokens = model.tokenizer().encode(text)?;
    let kept = tokens.len().min(budget);
    let text = if kept < tokens.len() { model.tokenizer().decode(&tokens[..kept])? } else { text.to_string() };
    Ok(SearchHit { chunk_id: 0, ordinal: 0, score: 1.0, similarity: None, token_count: kept, citation: text_citation(source, &text), text })
}

/// A stored passage's label as a payload carries it: without its file's path (rows stored before
/// locations were kept have only their full label).
fn passage_label(citation: &automix_history::Citation) -> String {
    citation.location.as_ref().map(|location| location.reference()).unwrap_or_else(|| citation.source.clone())
}

fn to_stored_citation(hit: &SearchHit) -> automix_history::Citation {
    automix_history::Citation {
        source: hit.citation.to_string(),
        chunk_id: Some(hit.chunk_id.to_string()),
        text: hit.text.clone(),
        score: hit.score as f32,
        location: Some(hit.citation.location.clone()),
    }
}
