// The app against a real OpenAI-compatible server instead of the test double: llama.cpp's
// llama-server serving a Qwen2.5-Coder model on this machine (tools/llama-server.sh). One session:
// first run, a document, the remote settings pointing at the server (no key: a local server needs
// none; a price, so the cost is not zero), a local answer, then "Ask <model>": the answer must
// stream in token by token, and the history must hold the server's own token counts and the cost
// they price to. Run by `make e2e-llama-server` (tests/e2e/run.sh --llama-server GGUF), not by
// `make test`: building llama-server takes 15 to 25 minutes on 2 cores.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import * as e2e from "../lib.mjs";
import * as fx from "../fixtures.mjs";

const { poll, click, type, navigate, shown, numbers } = e2e;
const MINUTE = 60_000;
const SERVER = process.env.AUTOMIX_E2E_LLAMA_SERVER || "";
const MODEL = process.env.AUTOMIX_E2E_LLAMA_MODEL || "";
const PRICE = { input: 0.15, output: 0.6 }; // per million tokens: OpenAI's gpt-4o-mini price
// Asks for a few sentences, so that the answer streams in many pieces.
const QUESTION = "What does the company profile say about how Brindlewood Ceramics began? Answer in three sentences.";
const CLI = path.join(process.env.CARGO_TARGET_DIR || path.join(e2e.REPO, "target"), "release", "automix");

let app;
let driver;
const metrics = {};

describe("AutoMix with llama-server as its remote model", { timeout: 20 * MINUTE }, () => {
  before(async () => {
    assert.ok(SERVER && MODEL, "AUTOMIX_E2E_LLAMA_SERVER and AUTOMIX_E2E_LLAMA_MODEL are not set (run tests/e2e/run.sh --llama-server GGUF)");
    const models = await (await fetch(`${SERVER}/models`)).json();
    assert.ok(models.data.some((m) => m.id === MODEL), `llama-server at ${SERVER} does not serve ${MODEL}: ${JSON.stringify(models)}`);
    app = await e2e.startApp();
    driver = app.driver;
  });

  after(async () => {
    if (app) await app.stop();
    console.log(JSON.stringify(e2e.recordMetrics({ llama_server: metrics })));
  });

  test("1. first run and a document", { timeout: 5 * MINUTE }, async () => {
    await e2e.waitUntilReady(driver);
    await e2e.dismissFirstRun(driver);
    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "docs-"));
    const file = path.join(folder, fx.DOCUMENT_NAME);
    fs.writeFileSync(file, fx.DOCUMENT_TEXT);
    await e2e.addDocument(driver, file, "Brindlewood");
  });

  test("2. the remote settings point at llama-server", { timeout: 2 * MINUTE }, async () => {
    await navigate(driver, "settings");
    await type(driver, "settings-remote-endpoint", SERVER);
    await type(driver, "settings-remote-model", MODEL);
    await type(driver, "settings-price-in", PRICE.input);
    await type(driver, "settings-price-out", PRICE.output);
    // The router keeps answers local, so the escalation below is the user's "Ask <model>" and its
    // streaming is watched from its first token.
    const never = await shown(driver, "settings-never-escalate");
    if (!(await never.isSelected())) await e2e.clickElement(driver, never, "settings-never-escalate");
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);
    await e2e.saveBudget(driver, 5);
  });

  test("3. asking llama-server streams its answer and records its usage and cost", { timeout: 10 * MINUTE }, async () => {
    const local = await e2e.ask(driver, QUESTION);
    assert.equal(local.answer.state, "done", JSON.stringify(local.answer));
    assert.equal(local.answer.source, "local", `escalation is switched off, yet: ${JSON.stringify(local.answer)}`);
    const localAnswerCount = local.answer.n;
    let answer = local.answer;
    {
      await e2e.clickInLastAnswer(driver, "ask-remote");
      // Sample the answer text while it streams: a streamed answer grows in several steps.
      const lengths = [];
      const started = Date.now();
      let firstRemoteText = null;
      answer = await poll(
        async () => {
          const a = await e2e.lastAnswer(driver);
          if (a.source === "remote" && a.text && a.text !== "…" && a.text !== local.answer.text) {
            if (firstRemoteText === null) firstRemoteText = Date.now() - started;
            if (lengths[lengths.length - 1] !== a.text.length) lengths.push(a.text.length);
          }
          return a.source === "remote" && a.state === "done" ? a : null;
        },
        { timeout: 8 * MINUTE, interval: 25, message: "llama-server's answer after ask-remote" },
      );
      metrics.remote_first_text_ms = firstRemoteText;
      metrics.remote_answer_ms = Date.now() - started;
      metrics.streamed_lengths = lengths;
      assert.ok(lengths.length >= 3, `the answer arrived in ${lengths.length} step(s), not streamed: ${JSON.stringify(lengths)}`);
      for (let i = 1; i < lengths.length; i++) assert.ok(lengths[i] > lengths[i - 1], `the streamed text shrank: ${JSON.stringify(lengths)}`);
    }
    assert.equal(answer.n, localAnswerCount, "asking the remote model replaced the answer instead of adding one");
    assert.equal(answer.badge, "escalated", JSON.stringify(answer));
    assert.ok(answer.text.length > 0, "llama-server's answer is empty");
    assert.match(answer.selfCheck, /^The local answer's self-check: \d+%/, `self-check under the remote answer: ${JSON.stringify(answer.selfCheck)}`);
    assert.ok(Math.max(0, ...numbers(answer.cost)) > 0, `badge-cost shows ${JSON.stringify(answer.cost)}`);
    metrics.answer = answer.text;
    metrics.cost_text = answer.cost;
    await e2e.screenshot(driver, "llama-server", ["answer-text", "badge-cost"]);

    // The history (read by the CLI from the same AUTOMIX_HOME) holds the server's own counts.
    const history = execFileSync(CLI, ["history", "escalated"], { env: process.env, encoding: "utf8" });
    const usage = history.match(/usage (\d+) prompt \+ (\d+) completion tokens \(([^)]*)\)/);
    assert.ok(usage, `no usage line in the history:\n${history}`);
    const [promptTokens, completionTokens] = [Number(usage[1]), Number(usage[2])];
    assert.equal(usage[3], "as the server reported", `the usage was not llama-server's: ${usage[0]}`);
    assert.ok(promptTokens > 50 && completionTokens > 0, usage[0]);
    const cost = Number(history.match(/cost ([\d.]+) /)[1]);
    const expected = (promptTokens * PRICE.input + completionTokens * PRICE.output) / 1e6;
    assert.ok(Math.abs(cost - expected) < 1e-6, `cost ${cost} against ${expected} for ${usage[0]}`);
    Object.assign(metrics, { prompt_tokens: promptTokens, completion_tokens: completionTokens, cost });
  });
});
