import { describe, expect, it } from "vitest";
import type { AnswerView } from "../api";
import { newAnswer, reduceAnswer } from "./answer";
import { badgeOf, badgeOfView } from "./badge";

const view = (over: Partial<AnswerView>): AnswerView => ({
  id: 1, conversation_id: 1, asked_at_ms: 0, question: "Q", citations: [], passages: [], local_answer: "a",
  local_model: "m", verifier_value: null, local_confidence: 0.873, decision: "local", reason: "confident enough",
  estimated_cost: null, remote_model: null, remote_answer: null, remote_error: null, cost: 0, currency: "USD",
  feedback: null, latency_ms: 1, api_client: null, ...over,
});

describe("badge model", () => {
  it("labels local answers with their confidence", () => {
    expect(badgeOfView(view({}), "en-US")).toEqual({
      badge: "local", label: "Local · 87% confident", reason: "confident enough", confidence: "87% confident", cost: null, model: null,
    });
  });
  it("reads a failed escalation as stayed local, naming the failure", () => {
    const b = badgeOfView(view({ decision: "escalate", remote_model: "gpt-4o-mini", remote_error: "HTTP 500", remote_answer: null, cost: 0, reason: "low confidence" }), "en-US");
    expect(b).toMatchObject({ badge: "stayed-local", label: "Stayed local · gpt-4o-mini failed", cost: null, reason: "low confidence" });
  });

  it("labels escalations with the model and the settled cost", () => {
    const b = badgeOfView(view({ decision: "escalate", remote_model: "gpt-4o-mini", cost: 0.00045, reason: "low confidence" }), "en-US");
    expect(b).toMatchObject({ badge: "escalated", label: "Escalated to gpt-4o-mini · $0.00045", cost: "$0.00045", reason: "low confidence" });
  });
  it("renders both stay-local decisions the same way", () => {
    expect(badgeOfView(view({ decision: "stay_local_budget", reason: "budget" }), "en-US")).toMatchObject({ badge: "stayed-local", label: "Stayed local", reason: "budget" });
    expect(badgeOfView(view({ decision: "stay_local" }), "en-US").badge).toBe("stayed-local");
  });
  it("follows the stream: none until routed, the estimate until done", () => {
    let s = newAnswer("Q");
    expect(badgeOf(s.routing)).toBeNull();
    s = reduceAnswer(s, { kind: "routed", decision: "escalate", reason: "r", local_confidence: 0.2, estimated_cost: 0.02, currency: "EUR", remote_model: "claude", signals: {}, calibrated: true });
    expect(badgeOf(s.routing, false, "en-US")?.label).toBe("Escalated to claude · €0.02");
    s = reduceAnswer(s, { kind: "done", answer: "x", source: "remote", cost: 0.013, currency: "EUR", question_id: 2 });
    expect(badgeOf(s.routing, false, "en-US")?.cost).toBe("€0.013");
  });
});
