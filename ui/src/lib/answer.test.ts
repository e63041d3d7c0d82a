import { describe, expect, it } from "vitest";
import type { AnswerView, AskEvent, Citation, Decision } from "../api";
import { answerFromView, cancelAnswer, failAnswer, finishAnswer, newAnswer, reduceAnswer, selfCheckText, shownText } from "./answer";

const citation: Citation = {
  document_id: 1, path: "/d/a.pdf", title: "A", page_start: 2, page_end: 2, page_label_start: null, page_label_end: null, ocr_confidence: null, section: "Intro",
  char_start: 0, char_end: 10, snippet: "Paris is…",
};

const routed = (decision: Decision): AskEvent => ({
  kind: "routed", decision, reason: "because", local_confidence: 0.4, estimated_cost: 0.002, currency: "USD",
  remote_model: decision === "escalate" ? "gpt-4o" : null, signals: {}, calibrated: true,
});

const run = (events: AskEvent[]) => events.reduce(reduceAnswer, newAnswer("Capital of France?"));

describe("answer stream reducer", () => {
  it("builds a local answer", () => {
    const s = run([
      { kind: "retrieved", citations: [citation], passages: ["Paris is the capital."] },
      { kind: "local_token", text: "Par" },
      { kind: "local_token", text: "is" },
      { kind: "verified", v: 0.9, grounded: true },
      routed("local"),
    ]);
    expect(s.phase).toBe("streaming");
    expect(shownText(s)).toBe("Paris");
    expect(s.citations).toHaveLength(1);
    expect(s.passages[0]).toBe("Paris is the capital.");
    expect(s.verified).toEqual({ v: 0.9, grounded: true });
    const done = reduceAnswer(s, { kind: "done", answer: "Paris.", source: "local", cost: 0, currency: "USD", question_id: 7 });
    expect(done).toMatchObject({ phase: "done", questionId: 7, source: "local", localText: "Paris." });
    expect(done.routing?.cost).toBe(0);
  });

  it("streams an escalation and keeps the local text", () => {
    const s = run([
      { kind: "local_token", text: "Lyon" },
      routed("escalate"),
      { kind: "remote_token", text: "Paris" },
      { kind: "done", answer: "Paris", source: "remote", cost: 0.00045, currency: "USD", question_id: 8 },
    ]);
    expect(s.source).toBe("remote");
    expect(shownText(s)).toBe("Paris");
    expect(s.localText).toBe("Lyon");
    expect(s.routing).toMatchObject({ decision: "escalate", cost: 0.00045, estimated_cost: 0.002 });
  });

  it("falls back to the local answer when the remote fails", () => {
    const s = run([
      { kind: "local_token", text: "Lyon" },
      routed("escalate"),
      { kind: "remote_token", text: "Par" },
      { kind: "remote_failed", message: "HTTP 401" },
      { kind: "done", answer: "Lyon", source: "local", cost: 0, currency: "USD", question_id: 9 },
    ]);
    expect(s).toMatchObject({ source: "local", remoteText: "", remoteError: "HTTP 401", phase: "done" });
    expect(shownText(s)).toBe("Lyon");
  });

  it("cancels and fails only what is still running", () => {
    const s = run([{ kind: "local_token", text: "Pa" }]);
    const cancelled = cancelAnswer(s);
    expect(cancelled.phase).toBe("cancelled");
    expect(finishAnswer(cancelled, 3).phase).toBe("cancelled");
    const done = finishAnswer(s, 3);
    expect(done).toMatchObject({ phase: "done", questionId: 3 });
    expect(cancelAnswer(done).phase).toBe("done");
    expect(failAnswer(s, "model crashed")).toMatchObject({ phase: "failed", error: "model crashed" });
  });
});

describe("stored answers", () => {
  const view: AnswerView = {
    id: 4, conversation_id: 1, asked_at_ms: 0, question: "Q", citations: [citation], passages: ["P"],
    local_answer: "local", local_model: "smollm2", verifier_value: 0.7, local_confidence: 0.6,
    decision: "stay_local_budget", reason: "budget exhausted", estimated_cost: 0.01, remote_model: null,
    remote_answer: null, remote_error: null, cost: 0, currency: "EUR", feedback: "up", latency_ms: 100, api_client: null,
  };
  it("maps decisions and picks the shown source", () => {
    const s = answerFromView(view);
    expect(s).toMatchObject({ questionId: 4, phase: "done", source: "local", feedback: "up" });
    expect(s.routing?.decision).toBe("stay_local_budget");
    const remote = answerFromView({ ...view, decision: "escalate", remote_answer: "remote", remote_model: "gpt-4o" });
    expect(remote.source).toBe("remote");
    expect(shownText(remote)).toBe("remote");
    expect(remote.localText).toBe("local");
  });
});

describe("selfCheckText", () => {
  it("says whose check it is under a remote answer", () => {
    const local = reduceAnswer(newAnswer("q"), { kind: "verified", v: 0.68, grounded: false });
    expect(selfCheckText(local)).toBe("Self-check: 68% · not grounded in the sources");
    const remote = { ...local, source: "remote" as const };
    expect(selfCheckText(remote)).toBe("The local answer's self-check: 68% · not grounded in the sources");
    expect(selfCheckText(newAnswer("q"))).toBeNull();
  });
});
