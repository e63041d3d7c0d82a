// The state of one answer card, built either from the live AskEvent stream or from a stored AnswerView.
import type { AnswerView, AskEvent, Citation, Decision } from "../api";
import { formatPercent } from "./format";

export type AnswerPhase = "streaming" | "done" | "failed" | "cancelled";

export interface Routing {
  decision: Decision;
  reason: string;
  local_confidence: number | null;
  estimated_cost: number | null;
  cost: number | null; // settled cost, known once the answer is done
  currency: string;
  remote_model: string | null;
}

export interface AnswerState {
  questionId: number | null;
  question: string;
  citations: Citation[];
  passages: string[];
  localText: string;
  remoteText: string;
  source: "local" | "remote";
  verified: { v: number; grounded: boolean | null } | null;
  routing: Routing | null;
  remoteError: string | null;
  phase: AnswerPhase;
  error: string | null;
  feedback: "up" | "down" | null;
}

export function newAnswer(question: string): AnswerState {
  return {
    questionId: null,
    question,
    citations: [],
    passages: [],
    localText: "",
    remoteText: "",
    source: "local",
    verified: null,
    routing: null,
    remoteError: null,
    phase: "streaming",
    error: null,
    feedback: null,
  };
}

export function reduceAnswer(state: AnswerState, event: AskEvent): AnswerState {
  switch (event.kind) {
    case "retrieved":
      return { ...state, citations: event.citations, passages: event.passages };
    case "local_token":
      return { ...state, localText: state.localText + event.text };
    case "verified":
      return { ...state, verified: { v: event.v, grounded: event.grounded } };
    case "routed":
      return {
        ...state,
        routing: {
          decision: event.decision,
          reason: event.reason,
          local_confidence: event.local_confidence,
          estimated_cost: event.estimated_cost,
          cost: null,
          currency: event.currency,
          remote_model: event.remote_model,
        },
      };
    case "remote_token":
      return { ...state, source: "remote", remoteText: state.remoteText + event.text };
    case "remote_failed":
      // The partial remote text is dropped: the local answer stands.
      return { ...state, source: "local", remoteText: "", remoteError: event.message };
    case "done": {
      const text = event.source === "remote" ? { remoteText: event.answer } : { localText: event.answer };
      const routing = state.routing && { ...state.routing, cost: event.cost, currency: event.currency };
      return { ...state, ...text, source: event.source, routing, questionId: event.question_id, phase: "done" };
    }
  }
}

/** The command resolved; covers a stream whose "done" event has not arrived. */
export function finishAnswer(state: AnswerState, questionId: number): AnswerState {
  return { ...state, questionId: state.questionId ?? questionId, phase: state.phase === "streaming" ? "done" : state.phase };
}

export function cancelAnswer(state: AnswerState): AnswerState {
  return state.phase === "streaming" ? { ...state, phase: "cancelled" } : state;
}

export function failAnswer(state: AnswerState, message: string): AnswerState {
  return { ...state, phase: "failed", error: message };
}

/** The user asked the remote model for an already answered question. */
export function startEscalation(state: AnswerState): AnswerState {
  return { ...state, phase: "streaming", remoteText: "", remoteError: null };
}

/** The self-check line: always the local model's check of its own answer, so under a remote
 *  answer it says whose check it is (a right remote answer read "Self-check: 68% · not grounded"). */
export function selfCheckText(state: AnswerState): string | null {
  if (!state.verified) return null;
  const grounded = state.verified.grounded === null ? "" : state.verified.grounded ? " · grounded in the sources" : " · not grounded in the sources";
  const whose = state.source === "remote" ? "The local answer's self-check" : "Self-check";
  return `${whose}: ${formatPercent(state.verified.v)}${grounded}`;
}

export function shownText(state: AnswerState): string {
  return state.source === "remote" ? state.remoteText : state.localText;
}

export function answerFromView(view: AnswerView): AnswerState {
  return {
    questionId: view.id,
    question: view.question,
    citations: view.citations,
    passages: view.passages,
    localText: view.local_answer,
    remoteText: view.remote_answer ?? "",
    source: view.remote_answer !== null ? "remote" : "local",
    verified: view.verifier_value !== null ? { v: view.verifier_value, grounded: null } : null,
    routing: {
      decision: view.decision,
      reason: view.reason,
      local_confidence: view.local_confidence,
      estimated_cost: view.estimated_cost,
      cost: view.cost,
      currency: view.currency,
      remote_model: view.remote_model,
    },
    remoteError: view.remote_error,
    phase: "done",
    error: null,
    feedback: view.feedback,
  };
}
