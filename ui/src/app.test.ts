// @vitest-environment happy-dom
// Boots the whole UI against a mocked IPC to catch wiring errors the pure tests cannot see.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { expect, it, vi } from "vitest";
import type { Channel } from "@tauri-apps/api/core";
import type { AnswerView, AskEvent } from "./api";

const ready = { state: "ready", model_id: "m", load_ms: 1 };
const doc = { id: 1, path: "/docs/france.md", title: "France", format: "md", content_hash: "h", size_bytes: 2048, chunk_count: 3, indexed_at: 1_700_000_000, private: false, private_folder: null as string | null };
const privateCalls: unknown[] = [];
const citation = { document_id: 1, path: doc.path, title: "France", page_start: null, page_end: null, page_label_start: null, page_label_end: null, ocr_confidence: null, section: "Capital", char_start: 15, char_end: 36, snippet: "Paris…" };
const stored: AnswerView = {
  id: 11, conversation_id: 5, asked_at_ms: 1_700_000_000_000, question: "Capital of France?", citations: [citation], passages: ["Paris is the capital."],
  local_answer: "Lyon", local_model: "smollm2", verifier_value: 0.3, local_confidence: 0.3, decision: "escalate", reason: "low confidence",
  estimated_cost: 0.001, remote_model: "gpt-4o-mini", remote_answer: "Paris", remote_error: null, cost: 0.00045, currency: "USD", feedback: null, latency_ms: 900, api_client: null,
};

const speed = {
  model_id: "m", file_sha256: "ab", file_bytes: 145_000_000, measured_at_ms: 1, device: "cpu", cpu_kernels: "avx2", threads: 2, prompt_tokens: 128,
  decode_tokens: 32, load_secs: 0.4, prefill_tokens_per_sec: 812.4, decode_tokens_per_sec: 7.25, memory_needed_mb: 352.4, context_tokens: 1024, rss_growth_mb: 300,
};
let measured = false;
let calibrationRun: unknown = null;
const shipped = { state: "calibrated", origin: "bundled", rows: 300, local_accuracy: 0.512 };
const uncalibrated = { calibration: { state: "not_calibrated", answered: 0, total: 300 }, run: null };

const calls: string[] = [];
const handlers: Record<string, (args: any) => unknown> = {
  app_status: () => ({ chat_model: ready, embedder: ready, first_run: false, documents: 1, questions: 0 }),
  documents_list: () => [doc],
  documents_folders: () => [{ path: "/docs", private: false }],
  documents_set_private: (args: { id: number; isPrivate: boolean }) => {
    privateCalls.push(args);
    doc.private = args.isPrivate;
    return doc;
  },
  documents_text: ({ id }: { id: number }) => ({
    document: { ...doc, id },
    pages: [{ number: 1, label: "vii", text: "Front matter." }, { number: 2, label: null, text: "Paris is the capital." }],
    text: "Front matter.\n\nParis is the capital.",
  }),
  settings_get: () => ({ local_model: "m", context_tokens: 2048, never_escalate: false, ask_before_sending: "never", ask_above: 0.01, redaction: { personal_data: false, words: [] }, quality_cost: 0.5, device: "auto", remote: { endpoint: "https://x/v1", model: "gpt-4o-mini", input_per_million: null, output_per_million: null, accuracy: 0.9, max_tokens: 512 }, local_api: { enabled: true, port: 11435, allow_network: false }, ocr_languages: "" }),
  local_api_status: () => ({ running: true, base_url: "http://127.0.0.1:11435/v1", listening_on: "127.0.0.1:11435", network: false, error: null }),
  chat_conversations: () => [{ id: 5, title: "Capital of France?", created_at_ms: 1, api_client: null }],
  chat_new_conversation: () => 5,
  chat_conversation: () => [],
  chat_ask: ({ onEvent }: { onEvent: Channel<AskEvent> }) => {
    const send = (e: AskEvent) => onEvent.onmessage(e);
    send({ kind: "retrieved", citations: [citation], passages: ["Paris is the capital."] });
    send({ kind: "local_token", text: "Lyon" });
    send({ kind: "verified", v: 0.3, grounded: false });
    send({ kind: "routed", decision: "escalate", reason: "low confidence", local_confidence: 0.3, estimated_cost: 0.001, currency: "USD", remote_model: "gpt-4o-mini", signals: { grounded: false }, calibrated: true });
    send({ kind: "remote_token", text: "Paris" });
    send({ kind: "done", answer: "Paris", source: "remote", cost: 0.00045, currency: "USD", question_id: 11 });
    return 11;
  },
  history_list: () => ({ answers: [stored], total_cost: 0.00045, currency: "USD", count: 1, escalated: 1 }),
  spend_report: () => ({ month: "2025-04", currency: "USD", limit: 3, spent: 0.5, reserved: 0, remaining: 2.5, per_day: [{ day: "2025-04-02", cost: 0.5, escalations: 2 }], answers: 4, escalated: 1, escalated_share: 0.25, all_remote_cost: 1.5, saved: 1 }),
  models_list: () => [
    { id: "m", name: "SmolLM2", kind: "chat", approx_size_mb: 145, quantization: "q8", license: "Apache-2.0", installed: true, active: true,
      tested_here: true, download_bytes: 145_000_000, memory_needed_mb: 352.4, memory_exact: true, speed: measured ? { state: "measured", ...speed } : { state: "not_measured" },
      router: { calibration: shipped, run: calibrationRun } },
    { id: "q", name: "Qwen2.5 Coder 1.5B", kind: "chat", approx_size_mb: 1117, quantization: "Q4_K_M", license: "apache-2.0", installed: false, active: false,
      tested_here: true, download_bytes: 1_117_320_768, memory_needed_mb: 1215.5, memory_exact: false, speed: { state: "not_measured" },
      router: { calibration: { ...shipped, local_accuracy: 0.633 }, run: null } },
    { id: "l", name: "Llama 3.2 3B", kind: "chat", approx_size_mb: 2019, quantization: "Q4_K_M", license: "llama3.2", installed: false, active: false,
      tested_here: false, download_bytes: 2_019_000_000, memory_needed_mb: 2075.4, memory_exact: false, speed: { state: "not_measured" },
      router: uncalibrated },
    { id: "e", name: "MiniLM", kind: "embedding", approx_size_mb: 92, quantization: "F32", license: "apache-2.0", installed: true, active: true,
      tested_here: true, download_bytes: 92_000_000, memory_needed_mb: null, memory_exact: false, speed: null, router: null },
  ],
  models_calibrate: ({ id }: { id: string }) => {
    if (id === "m") calibrationRun = { state: "answering", done: 3, total: 300, correct: 2, paused: false };
  },
  models_measure: () => {
    measured = true;
    return speed;
  },
  history_export: ({ selection, format }: { selection: { kind: string }; format: string }) => `/home/me/Downloads/automix-${selection.kind}.${format === "json" ? "json" : "md"}`,
  network_log: () => [
    { at_ms: 1_700_000_000_000, purpose: "escalation", host: "api.example.com", what: "POST /v1/chat/completions", bytes_sent: 1843, bytes_received: 0,
      status: 500, error: "HTTP 500", duration_ms: 120, cost: 0, currency: "USD" },
    { at_ms: 1_700_000_001_000, purpose: "escalation", host: "api.example.com", what: "POST /v1/chat/completions", bytes_sent: 1843, bytes_received: 912,
      status: 200, error: null, duration_ms: 840, cost: 0.00045, currency: "USD" },
  ],
  budget_get: () => ({ monthly_limit: 3, per_answer_cap: null, currency: "USD" }),
  key_status: () => ({ set: true, last4: "abcd" }),
};

const byId = (id: string) => document.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
const all = (id: string) => document.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`);

it("boots, answers a question and shows every view", async () => {
  mockWindows("main");
  mockIPC((cmd, args) => {
    calls.push(cmd);
    const handler = handlers[cmd];
    if (!handler) throw { code: "unknown", message: `no mock for ${cmd}` };
    return handler(args);
  }, { shouldMockEvents: true });
  document.body.append(Object.assign(document.createElement("div"), { id: "app" }));
  await import("./main");
  await vi.waitFor(() => expect(document.body.dataset.ready).toBe("true"));

  expect(byId("model-status").dataset.state).toBe("ready");
  expect(byId("first-run").hidden).toBe(true);
  expect(all("toast")).toHaveLength(0);

  const input = byId("question-input") as HTMLTextAreaElement;
  input.value = "Capital of France?";
  input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
  await vi.waitFor(() => expect(byId("answer").dataset.state).toBe("done"));
  const answer = byId("answer");
  expect(answer.dataset.questionId).toBe("11");
  expect(answer.dataset.source).toBe("remote");
  expect(byId("answer-text").textContent).toBe("Paris");
  expect(byId("badge").dataset.badge).toBe("escalated");
  expect(byId("badge-cost").textContent).toBe("$0.00045");
  expect(byId("badge-reason").textContent).toBe("low confidence");
  expect(calls).toContain("chat_new_conversation");

  byId("citation-chip").click();
  // The chip opens the passage in its document, highlighted.
  await vi.waitFor(() => expect((byId("passage-dialog") as HTMLDialogElement).open).toBe(true));
  expect(byId("cited-passage").textContent).toBe("Paris is the capital.");
  expect(byId("passage-in-document").textContent).toBe("Front matter.\n\nParis is the capital.");
  expect(calls).toContain("documents_text");
  byId("passage-close").click();

  byId("compare-button").click();
  expect(byId("compare-local").textContent).toContain("Lyon");
  expect(byId("compare-remote").textContent).toContain("Paris");

  // A kept local answer; asking the remote model by hand is first refused by the budget (nothing
  // changes but a toast), then the remote call fails (the engine returns the answer with its error).
  handlers.chat_ask = ({ onEvent }: { onEvent: Channel<AskEvent> }) => {
    onEvent.onmessage({ kind: "local_token", text: "Bern" });
    onEvent.onmessage({ kind: "routed", decision: "local", reason: "confident", local_confidence: 0.91, estimated_cost: null, currency: "USD", remote_model: null, signals: {}, calibrated: true });
    onEvent.onmessage({ kind: "done", answer: "Bern", source: "local", cost: 0, currency: "USD", question_id: 12 });
    return 12;
  };
  handlers.chat_escalate = () => { throw { code: "budget_exceeded", message: "the monthly budget does not cover this answer" }; };
  input.value = "Capital of Switzerland?";
  byId("ask-button").click();
  await vi.waitFor(() => expect(all("answer")[1].dataset.state).toBe("done"));
  const second = all("answer")[1];
  const inSecond = (id: string) => second.querySelector<HTMLElement>(`[data-testid="${id}"]`)!;
  expect(inSecond("badge").textContent).toBe("Local · 91% confident");
  expect(inSecond("confidence").textContent).toBe("91% confident");
  // The conversation is free again once the question has fully ended.
  await vi.waitFor(() => expect((byId("ask-button") as HTMLButtonElement).disabled).toBe(false));
  inSecond("ask-remote").click();
  await vi.waitFor(() => expect(byId("toast").dataset.code).toBe("budget_exceeded"));
  expect(inSecond("remote-note")).toBeNull();
  expect(inSecond("answer-text").textContent).toBe("Bern");
  byId("toast").querySelector<HTMLButtonElement>("[aria-label=Dismiss]")!.click();

  handlers.chat_escalate = () => ({
    id: 12, conversation_id: 1, asked_at_ms: 0, question: "Capital of Switzerland?", citations: [], passages: [], local_answer: "Bern",
    local_model: "m", verifier_value: 0.8, local_confidence: 0.91, decision: "escalate", reason: "you asked gpt-4o-mini for this answer",
    estimated_cost: 0.001, remote_model: "gpt-4o-mini", remote_answer: null, remote_error: "HTTP 500", cost: 0, currency: "USD",
    feedback: null, latency_ms: 5,
  });
  inSecond("ask-remote").click();
  await vi.waitFor(() => expect(inSecond("remote-note")).toBeTruthy());
  expect(inSecond("remote-note").textContent).toBe("Remote model failed: HTTP 500 — the local answer stands");
  expect(inSecond("answer-text").textContent).toBe("Bern");
  expect(inSecond("badge").dataset.badge).toBe("stayed-local");
  expect(inSecond("badge").textContent).toBe("Stayed local · gpt-4o-mini failed");
  expect(second.dataset.source).toBe("local");

  byId("nav-history").click();
  await vi.waitFor(() => expect(all("history-row")).toHaveLength(1));
  expect(byId("history-count").textContent).toBe("1 answer");
  expect(byId("history-row").dataset.escalated).toBe("true");
  byId("history-export-json").click();
  await vi.waitFor(() => expect(byId("toast").textContent).toContain("Exported to /home/me/Downloads/automix-history.json"));
  byId("toast").querySelector<HTMLButtonElement>("[aria-label=Dismiss]")!.click();

  byId("nav-spend").click();
  await vi.waitFor(() => expect(byId("spend-chart")).toBeTruthy());
  expect(byId("spend-chart").querySelectorAll("rect")).toHaveLength(1);
  expect(byId("spend-share").textContent).toBe("25%");

  byId("nav-settings").click();
  await vi.waitFor(() => expect(byId("key-status").textContent).toBe("Key set (…abcd)"));
  expect((byId("settings-remote-model") as HTMLInputElement).value).toBe("gpt-4o-mini");
  // The local API: its switch from the settings, where it serves from the shell.
  expect((byId("settings-local-api") as HTMLInputElement).checked).toBe(true);
  await vi.waitFor(() => expect(byId("local-api-status").textContent).toContain("http://127.0.0.1:11435/v1"));
  expect(byId("local-api-status").dataset.state).toBe("running");
  // The model table: download size, memory, speed on this machine and whether it was tested here.
  await vi.waitFor(() => expect(all("model-row")).toHaveLength(4));
  const cells = (id: string) => [...all(id)].map((c) => c.textContent);
  expect(cells("model-download-size")).toEqual(["138 MB", "1 GB", "1.9 GB", "87.7 MB"]);
  expect(cells("model-memory")).toEqual(["352 MB", "≥ 1.2 GB", "≥ 2 GB", "—"]);
  expect(cells("model-speed")).toEqual(["not measured yet", "not measured yet", "not measured yet", "—"]);
  expect(cells("model-tested")).toEqual(["Yes", "Yes", "Not yet", "Yes"]);
  expect(all("model-measure")).toHaveLength(1); // installed chat models only
  byId("model-measure").click();
  await vi.waitFor(() => expect(byId("model-speed").textContent).toBe("prefill 812 tok/s · decode 7.3 tok/s"));
  expect(byId("model-speed").dataset.state).toBe("measured");
  expect(byId("toast").dataset.code).toBe("measured");
  byId("toast").querySelector<HTMLButtonElement>("[aria-label=Dismiss]")!.click();
  // The router column: shipped calibrations, a model without one, and a run started from the table.
  expect(cells("model-router")).toEqual([
    "calibrated (shipped): right on 51% of 300", "calibrated (shipped): right on 63% of 300", "not calibrated: escalates more than needed", "—",
  ]);
  expect(all("model-calibrate")).toHaveLength(1); // installed chat models only
  expect(byId("model-calibrate").textContent).toBe("Calibrate here");
  byId("model-calibrate").click();
  await vi.waitFor(() => expect(byId("model-router").textContent).toBe("calibrating: 3/300 answered, 2 right…"));
  expect(byId("model-router").dataset.state).toBe("answering");
  expect(all("model-calibrate")).toHaveLength(0);
  expect(all("model-calibrate-cancel")).toHaveLength(1);

  byId("nav-documents").click();
  await vi.waitFor(() => expect(all("document-row")).toHaveLength(1));
  expect(byId("view-documents").hidden).toBe(false);
  expect(byId("view-chat").hidden).toBe(true);
  expect(all("toast")).toHaveLength(0);

  byId("show-text").click();
  await vi.waitFor(() => expect((byId("document-text-dialog") as HTMLDialogElement).open).toBe(true));
  const pages = [...all("document-page")].map((page) => page.textContent);
  expect(pages).toEqual(["Page 1 · printed viiFront matter.", "Page 2Paris is the capital."]);
  byId("document-text-close").click();
  expect((byId("document-text-dialog") as HTMLDialogElement).open).toBe(false);

  // The network log: newest first, with the failed attempt's reason and the answered one's cost.
  byId("nav-network").click();
  await vi.waitFor(() => expect(all("network-row")).toHaveLength(2));
  const rows = [...all("network-row")];
  expect(rows.map((r) => r.dataset.status)).toEqual(["200", "500"]);
  expect(rows[1].textContent).toContain("Failed: HTTP 500");
  expect(byId("network-summary").textContent).toBe("2 requests · 3.6 KB sent");
  byId("nav-documents").click();
  await vi.waitFor(() => expect(byId("view-documents").hidden).toBe(false));

  // Private: the document's checkbox asks the engine, the folder list shows the library's folders.
  expect([...all("folder-row")].map((row) => row.dataset.path)).toEqual(["/docs"]);
  const privateBox = byId("document-private") as HTMLInputElement;
  expect(privateBox.checked).toBe(false);
  privateBox.checked = true;
  privateBox.dispatchEvent(new Event("change"));
  await vi.waitFor(() => expect((byId("document-private") as HTMLInputElement).checked).toBe(true));
  expect(privateCalls).toEqual([{ id: 1, isPrivate: true }]);
});
