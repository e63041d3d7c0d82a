// The app end to end in its real webview, one scenario after another on the same AUTOMIX_HOME:
// first run → documents → a local answer → remote + budget → escalation → history → zero budget
// → remote failure → spend & settings → ending the session closes the app.
// 02-restart.test.mjs then starts the app again on the same AUTOMIX_HOME.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { By, Key } from "selenium-webdriver";
import * as e2e from "./lib.mjs";
import * as fx from "./fixtures.mjs";

const { sleep, poll, shown, click, type, navigate, textOf, count, numbers, tid, sel } = e2e;

const MINUTE = 60_000;
let app; // { driver, stop, sessionStartedAt }
let driver;
let pid = null;
const metrics = {};
const state = {}; // handed to 02-restart.test.mjs through target/e2e/state.json

/** Whether `a` and `b` share a run of `n` consecutive words (the passage quotes the document). */
function sharesWords(a, b, n) {
  const words = (text) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) || [];
  const haystack = ` ${words(b).join(" ")} `;
  const w = words(a);
  for (let i = 0; i + n <= w.length; i++) if (haystack.includes(` ${w.slice(i, i + n).join(" ")} `)) return true;
  return false;
}

async function settingsValue(id) {
  return driver.executeScript(`const el = document.querySelector(arguments[0]); return el ? el.value : null;`, sel(id));
}

async function saveBudget(monthly) {
  await e2e.saveBudget(driver, monthly);
}

/** Asks the hard questions (twice round at most) until the router wants to escalate one, which
 *  then waits for approval; returns that answer. */
async function askUntilPending() {
  for (let round = 0; round < 2; round++) {
    for (const question of fx.HARD_QUESTIONS) {
      const { answer } = await e2e.ask(driver, question);
      assert.equal(answer.state, "done", `the answer ended ${answer.state}: ${JSON.stringify(answer)}`);
      if (answer.badge === "pending") return answer;
      console.log(`# the router kept "${answer.question}" (${answer.badge}: ${answer.reason})`);
    }
  }
  assert.fail("the router never wanted to escalate a hard question, so nothing waited for approval");
}

/** Clicks "Ask <model>" on the newest answer and waits for the remote answer, which it returns. */
async function askRemoteByHand(what) {
  await e2e.clickInLastAnswer(driver, "ask-remote");
  return poll(async () => {
    const a = await e2e.lastAnswer(driver);
    return a.source === "remote" && a.state === "done" ? a : null;
  }, { timeout: 120_000, interval: 200, message: `the remote answer to ${what} after ask-remote` });
}

/** Scrolls the newest approval card into view, toasts closed, for its screenshot: its top (what,
 *  to whom, how much, which passages), or with its payload open down to its buttons. */
async function showApprovalCard({ payload = false } = {}) {
  await e2e.dismissToasts(driver);
  await driver.executeScript(`
    const all = document.querySelectorAll('[data-testid="answer"]');
    const card = all[all.length - 1].querySelector('[data-testid="approval-card"]');
    card.querySelector("details.approval-payload").open = arguments[0];
    if (arguments[0]) card.querySelector('[data-testid="approval-send"]').scrollIntoView({ block: "end" });
    else card.scrollIntoView({ block: "start" });`, payload);
}

async function historyTotal({ escalatedOnly = false } = {}) {
  await navigate(driver, "history");
  const box = await shown(driver, "history-filter-escalated");
  if ((await box.isSelected()) !== escalatedOnly) await e2e.clickElement(driver, box, "history-filter-escalated");
  await poll(async () => (await box.isSelected()) === escalatedOnly, { timeout: 5_000, message: "the escalated filter to toggle" });
  await sleep(500); // the list reloads after the filter changes
  const text = await textOf(driver, "history-total-cost");
  return { text, value: Math.max(0, ...numbers(text)) };
}

describe("AutoMix desktop app", { timeout: 30 * MINUTE }, () => {
  before(async () => {
    app = await e2e.startApp();
    driver = app.driver;
  });

  after(async () => {
    if (app) await app.stop();
    if (pid && e2e.alive(pid)) {
      console.error(`# the app (pid ${pid}) outlived its session; sending SIGTERM`);
      process.kill(pid, "SIGTERM");
    }
    if (e2e.intercepted.length) metrics.intercepted_clicks = e2e.intercepted;
    const merged = e2e.recordMetrics(metrics);
    fs.writeFileSync(path.join(e2e.OUT, "state.json"), JSON.stringify(state, null, 2) + "\n");
    console.log(JSON.stringify(merged));
  });

  test("1. first run finds the models", { timeout: 3 * MINUTE }, async () => {
    await poll(() => driver.executeScript(`return document.body && document.body.dataset.ready === "true";`), {
      timeout: 60_000,
      interval: 20,
      message: "body[data-ready=true]",
    });
    metrics.cold_start_ui_ready_ms = Date.now() - app.sessionStartedAt;
    const modelState = () => driver.executeScript(`const el = document.querySelector(arguments[0]); return el ? el.dataset.state : null;`, sel("model-status"));
    const seen = new Set();
    await poll(
      async () => {
        const s = await modelState();
        seen.add(s);
        assert.notEqual(s, "failed", `model-status failed: ${await textOf(driver, "model-status")}`);
        assert.notEqual(s, "missing", "model-status says missing: the models copied into AUTOMIX_HOME/models were not found");
        return s === "ready";
      },
      { timeout: 120_000, interval: 20, message: 'model-status data-state="ready"' },
    );
    metrics.cold_start_model_ready_ms = Date.now() - app.sessionStartedAt;
    metrics.model_states_seen = [...seen];
    pid = e2e.appPid(app.driverProcess.pid);
    assert.ok(pid, "no automix-app process found with pgrep");
    metrics.app_pid = pid;
    metrics.rss_after_model_load_kb = e2e.procStatus(pid, "VmHWM");
    assert.ok(metrics.rss_after_model_load_kb > 0, "could not read VmHWM of the app");
    const shot = await e2e.screenshot(driver, "chat", ["view-chat", "model-status", "question-input", "ask-button", "nav-documents"]);
    metrics.screenshots = { chat: shot.colours };
    await e2e.dismissFirstRun(driver);
  });

  test("2. add a document", { timeout: 4 * MINUTE }, async () => {
    // run.sh's work folder (removed after a passing run), else the system temp folder.
    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "docs-"));
    const file = path.join(folder, fx.DOCUMENT_NAME);
    fs.writeFileSync(file, fx.DOCUMENT_TEXT);
    state.documentPath = file;
    await e2e.addDocument(driver, file, "Brindlewood");
    await e2e.screenshot(driver, "documents", ["view-documents", "document-row", "file-report", "path-input"]);
  });

  test("2b. an added folder is watched: a new file appears without a click", { timeout: 3 * MINUTE }, async () => {
    const folder = path.dirname(state.documentPath);
    await type(driver, "path-input", folder);
    await click(driver, "add-path-button");
    await poll(
      () => driver.executeScript(`return [...document.querySelectorAll(arguments[0])].some((el) => el.dataset.status === "unchanged");`, sel("file-report")),
      { timeout: 60_000, interval: 250, message: "the folder's known file reported unchanged" },
    );
    const rowsBefore = await count(driver, "document-row");
    fs.writeFileSync(path.join(folder, "harbour-notes.md"), "# Harbour notes\n\nThe harbour master logs every ferry that docks after dusk.\n");
    await poll(async () => (await count(driver, "document-row")) === rowsBefore + 1, {
      timeout: 60_000,
      interval: 250,
      message: "the watcher to index the new file and the list to update on its own",
    });
    const names = await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].map((el) => el.textContent);`, sel("document-row"));
    assert.ok(names.some((text) => text.includes("harbour-notes") || text.includes("Harbour notes")), JSON.stringify(names));
  });

  test("2c. the document pane shows the text read from a PDF, page by page with printed page labels", { timeout: 3 * MINUTE }, async () => {
    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "pdf-"));
    const file = path.join(folder, "lighthouse-log.pdf");
    fs.writeFileSync(file, fx.labelledPdf());
    await navigate(driver, "documents");
    await type(driver, "path-input", file);
    await click(driver, "add-path-button");
    const rowId = await poll(
      () =>
        driver.executeScript(
          `const row = [...document.querySelectorAll(arguments[0])].find((el) => el.textContent.includes("lighthouse-log"));
           return row ? row.dataset.documentId : null;`,
          sel("document-row"),
        ),
      { timeout: 120_000, interval: 250, message: "a document-row for the PDF" },
    );
    const button = await driver.findElement(By.css(`[data-testid="document-row"][data-document-id="${rowId}"] [data-testid="show-text"]`));
    await e2e.clickElement(driver, button, "show-text");
    await shown(driver, "document-text-dialog");
    const pages = await poll(
      async () => {
        const found = await driver.executeScript(
          `return [...document.querySelectorAll(arguments[0])].map((el) => ({ page: el.dataset.page, text: el.textContent }));`,
          sel("document-page"),
        );
        return found.length === 2 ? found : null;
      },
      { timeout: 15_000, interval: 250, message: "two document-page sections" },
    );
    assert.equal(pages[0].page, "1");
    assert.match(pages[0].text, /Page 1 · printed vii/);
    assert.match(pages[0].text, /lighthouse keeper logs the weather at dawn/);
    assert.match(pages[1].text, /Page 2 · printed viii/);
    assert.match(pages[1].text, /Storm warnings are raised on the east mast/);
    await e2e.screenshot(driver, "document-text", ["document-text-dialog", "document-page"]);
    await click(driver, "document-text-close");
    // Out of the library again, so the chat scenarios below retrieve from the company profile only.
    const remove = await driver.findElement(By.css(`[data-testid="document-row"][data-document-id="${rowId}"] [data-testid="remove-document"]`));
    await e2e.clickElement(driver, remove, "remove-document");
    await poll(
      async () => !(await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].some((el) => el.textContent.includes("lighthouse-log"));`, sel("document-row"))),
      { timeout: 15_000, interval: 250, message: "the PDF's document-row to go" },
    );
  });

  test("3. a question that stays local, with citations", { timeout: 5 * MINUTE }, async () => {
    const { answer, firstTokenMs, firstTokenInPageMs, totalMs } = await e2e.ask(driver, fx.LOCAL_QUESTION);
    metrics.first_local_token_ms = firstTokenMs;
    metrics.first_local_token_in_page_ms = firstTokenInPageMs;
    metrics.first_answer_total_ms = totalMs;
    assert.equal(answer.state, "done", `the answer ended ${answer.state}: ${JSON.stringify(answer)}`);
    assert.ok(firstTokenMs !== null, "answer-text never became non-empty while polling");
    assert.equal(answer.source, "local");
    assert.ok(["local", "stayed-local"].includes(answer.badge), `badge is ${answer.badge} with no remote configured`);
    assert.ok(answer.text.length > 0, "answer-text is empty");
    assert.ok(answer.question.includes("Brindlewood") || answer.question === "", `answer-question shows ${answer.question}`);
    assert.ok(answer.citations >= 1, "no citation-chip on a question about the only document");
    state.localAnswerText = answer.text;

    await e2e.clickInLastAnswer(driver, "citation-chip");
    const dialog = await shown(driver, "passage-dialog");
    const passage = await poll(async () => (await dialog.getText()).trim(), { timeout: 5_000, message: "passage text" });
    assert.ok(passage.length > 20, `passage-dialog shows only ${JSON.stringify(passage)}`);
    assert.ok(sharesWords(passage, fx.DOCUMENT_TEXT, 6), `the passage does not come from the document: ${passage.slice(0, 200)}`);
    // The chip opens the document at the cited passage: highlighted, and scrolled into view.
    const cited = await shown(driver, "cited-passage");
    const citedText = (await cited.getText()).trim();
    assert.ok(citedText.length > 20 && sharesWords(citedText, fx.DOCUMENT_TEXT, 6), `the highlighted passage: ${citedText.slice(0, 200)}`);
    const inView = await driver.executeScript(
      `const mark = arguments[0].getBoundingClientRect(); const box = arguments[0].closest('[data-testid="passage-in-document"]').getBoundingClientRect();
       return mark.top >= box.top - 1 && mark.top < box.bottom;`, cited);
    assert.ok(inView, "the highlighted passage is not scrolled into view");
    await e2e.screenshot(driver, "passage", ["passage-dialog", "cited-passage"]);
    await click(driver, "passage-close");
    await poll(async () => !(await dialog.isDisplayed()), { timeout: 5_000, message: "passage-dialog to close after passage-close" });
    await e2e.screenshot(driver, "chat-answer", ["view-chat", "answer", "badge", "citation-chip"]);

    // 👍 on the local answer is stored (the router learns from it) and a second click takes it back.
    const pressed = async (id) => (await (await e2e.lastAnswerElement(driver)).findElement(tid(id))).getAttribute("aria-pressed");
    await e2e.clickInLastAnswer(driver, "feedback-up");
    await poll(async () => (await pressed("feedback-up")) === "true", { timeout: 10_000, message: "feedback-up pressed" });
    assert.equal(await pressed("feedback-down"), "false");
    await e2e.clickInLastAnswer(driver, "feedback-down");
    await poll(async () => (await pressed("feedback-down")) === "true", { timeout: 10_000, message: "feedback-down pressed instead" });
    assert.equal(await pressed("feedback-up"), "false", "👍 and 👎 are one verdict");
    await e2e.clickInLastAnswer(driver, "feedback-down");
    await poll(async () => (await pressed("feedback-down")) === "false", { timeout: 10_000, message: "the verdict taken back" });
    await e2e.clickInLastAnswer(driver, "feedback-up");
    await poll(async () => (await pressed("feedback-up")) === "true", { timeout: 10_000, message: "feedback-up pressed again" });
  });

  test("4. remote, key, budget and quality settings; an escalated answer and its comparison", { timeout: 8 * MINUTE }, async () => {
    await navigate(driver, "settings");
    // The 👍 of test 3 taught the router, and Settings says so; forgetting takes it back.
    const smolRouter = () => driver.executeScript(
      `const cell = document.querySelector('[data-testid="model-row"][data-model-id="smollm2-135m-instruct"] [data-testid="model-router"]'); return cell && cell.textContent;`);
    metrics.router_learned_text = await poll(async () => {
      const text = await smolRouter();
      return text && /learned from 1 judged answer \(1 right\), now expects \d+%/.test(text) ? text : null;
    }, { timeout: 10_000, message: "the router cell to say what the 👍 taught it" });
    await click(driver, "model-forget-learning");
    await poll(async () => {
      const text = await smolRouter();
      return text && /calibrated/.test(text) && !/learned from/.test(text) ? text : null;
    }, { timeout: 10_000, message: "the router cell to drop what it learned after model-forget-learning" });
    await type(driver, "settings-remote-endpoint", e2e.remoteEndpoint());
    await type(driver, "settings-remote-model", "gpt-4o-mini");
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);

    const key = "sk-e2e-0123456789abcdefghijklmnopqrstuvwxyz-WXYZ";
    await type(driver, "settings-api-key", key);
    await click(driver, "settings-save-key");
    const keyText = await poll(
      async () => {
        const t = await textOf(driver, "key-status");
        return /\bset\b|WXYZ|saved|stored/i.test(t) && !/not set/i.test(t) ? t : null;
      },
      { timeout: 10_000, message: "key-status to say the key is set" },
    );
    assert.ok(!keyText.includes(key), "key-status shows the full key");
    const pageText = await driver.executeScript(`return document.body.innerText;`);
    assert.ok(!pageText.includes(key), "the full key is visible somewhere on the page");
    const inputValue = await settingsValue("settings-api-key");
    assert.notEqual(inputValue, key, "the key stays in the input after saving");

    // Headless there is no keychain: the key falls back to a private file, never settings.toml.
    const home = process.env.AUTOMIX_HOME;
    if (home) {
      const settingsToml = fs.readFileSync(path.join(home, "settings.toml"), "utf8");
      assert.ok(!settingsToml.includes(key), "the API key is written into settings.toml");
      const keyFile = path.join(home, "api-key");
      if (fs.existsSync(keyFile)) {
        const mode = fs.statSync(keyFile).mode & 0o777;
        assert.equal(mode & 0o077, 0, `the api-key file is readable by others (mode ${mode.toString(8)})`);
        metrics.api_key_store = `file ${mode.toString(8)}`;
      } else {
        metrics.api_key_store = "keychain";
      }
    }

    await saveBudget(5);

    await navigate(driver, "settings");
    await e2e.setRange(driver, "settings-quality-cost", 0);
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);
    assert.equal(Number(await settingsValue("settings-quality-cost")), 0);

    // "Ask me before sending" starts at "always ask" with a new remote model: the router's
    // escalation waits on the card, with exactly what would be sent, and nothing leaves.
    assert.equal(await settingsValue("settings-ask-before-sending"), "always", "a newly configured remote model asks before sending");
    const approvalStart = await e2e.remoteRequests();
    let pending = await askUntilPending();
    let card = await e2e.approvalCard(driver);
    assert.equal(await e2e.remoteRequests(), approvalStart, "a request left before the user approved it");
    assert.match(pending.reason, /nothing is sent until you approve it/, pending.reason);
    assert.match(card.summary, new RegExp(`To ${e2e.remoteRoot().replace(/^https?:\/\//, "").replace(/[.]/g, "\\.")} · about \\d+ tokens · at most`), card.summary);
    assert.ok(card.payload.includes(pending.question), "the card's payload does not show the question");
    assert.ok(card.passages.length >= 1, "the card lists no passages");
    metrics.approval_card = { summary: card.summary, passages: card.passages.length };
    await showApprovalCard();
    await e2e.screenshot(driver, "approve", ["approval-card", "approval-summary", "approval-send", "approval-keep-local"]);

    // Send without one passage: what arrives is what the card showed, less that passage.
    let leftOut = null;
    if (card.passages.length >= 2) {
      leftOut = card.passages.find((p) => p.checked && !p.disabled);
      const answerEl = await e2e.lastAnswerElement(driver);
      await e2e.clickElement(driver, await answerEl.findElement(By.css(`[data-testid="approval-passage"][data-index="${leftOut.index}"]`)), "approval-passage");
      const contextEntries = (text) => (text.match(/\n\[\d+\] \(/g) || []).length;
      const before = contextEntries(card.payload);
      card = await poll(async () => {
        const c = await e2e.approvalCard(driver);
        return /^Send without this passage$/.test(c.send) && contextEntries(c.payload) === before - 1 ? c : null;
      }, { timeout: 15_000, message: "the card to offer sending without the unticked passage, one passage fewer in its payload" });
      await showApprovalCard({ payload: true });
      await e2e.screenshot(driver, "approve-without-passage", ["approval-card", "approval-send"]);
    }
    await e2e.clickInLastAnswer(driver, "approval-send");
    const approved = await poll(async () => {
      const a = await e2e.lastAnswer(driver);
      return a.source === "remote" && a.state === "done" && a.badge === "escalated" ? a : null;
    }, { timeout: 120_000, interval: 200, message: "the remote answer after approval-send" });
    assert.match(approved.reason, /^you approved sending it to gpt-4o-mini/, approved.reason);
    const received = await e2e.receivedRequests();
    assert.equal(received.length, approvalStart + 1, "approving sent more or less than one request");
    const sentBody = JSON.stringify(received[received.length - 1].body.messages);
    assert.ok(sentBody.includes(JSON.stringify(pending.question).slice(1, -1)), "the approved request lacks the question");
    // What arrived is what the card showed when Send was clicked, message for message.
    for (const message of received[received.length - 1].body.messages) {
      assert.ok(card.payload.includes(message.content), `the request carried a message the card did not show: ${message.content.slice(0, 200)}`);
    }
    assert.ok(!sentBody.includes(process.env.E2E_WORK || "/tmp/automix-e2e"), "a passage's file path left the device");
    if (leftOut) assert.match(approved.reason, /you left out 1 of its passages/, approved.reason);
    metrics.approval_left_out_passage = leftOut ? leftOut.source : null;

    // Keep local: the badge says the user chose, and nothing is sent.
    pending = await askUntilPending();
    await e2e.approvalCard(driver);
    const beforeKeep = await e2e.remoteRequests();
    await e2e.clickInLastAnswer(driver, "approval-keep-local");
    const kept = await poll(async () => {
      const a = await e2e.lastAnswer(driver);
      return a.badge === "stayed-local" ? a : null;
    }, { timeout: 15_000, message: "the kept answer's badge" });
    assert.match(kept.reason, /^you kept it on this device/, kept.reason);
    assert.equal(await e2e.remoteRequests(), beforeKeep, "keeping the answer local sent a request");
    await e2e.screenshot(driver, "approve-kept-local", ["badge", "badge-reason"]);

    // One left pending: the restart suite finds it still waiting, unsent.
    pending = await askUntilPending();
    await e2e.approvalCard(driver);
    state.pendingQuestionId = Number(pending.id);
    state.requestsWhilePending = await e2e.remoteRequests();

    // The rest of the suite tests the router sending by itself.
    await e2e.chooseAskBeforeSending(driver, "never");

    const requestsBefore = await e2e.remoteRequests();
    let result = null;
    for (const question of fx.HARD_QUESTIONS) {
      result = await e2e.ask(driver, question);
      assert.equal(result.answer.state, "done", `the answer ended ${result.answer.state}: ${JSON.stringify(result.answer)}`);
      if (result.answer.badge === "escalated") break;
    }
    let answer = result.answer;
    metrics.escalation = answer.badge === "escalated" ? "router" : "ask-remote";
    if (answer.badge !== "escalated") {
      console.log(`# the router kept "${answer.question}" local (${answer.badge}: ${answer.reason}); asking the remote model by hand`);
      const localText = answer.text;
      answer = await askRemoteByHand("the hard question");
      assert.notEqual(answer.text, "", "the remote answer is empty");
      assert.notEqual(answer.text, localText, "the answer text did not change after ask-remote");
    }
    assert.equal(answer.source, "remote", JSON.stringify(answer));
    assert.equal(answer.badge, "escalated", `an answer from the remote model shows badge ${answer.badge}`);
    assert.ok(answer.reason.length > 0, "badge-reason is empty on an escalated answer");
    // The self-check under a remote answer is the local model's, and says so.
    assert.match(answer.selfCheck, /^The local answer's self-check: \d+%/, `self-check under the remote answer: ${JSON.stringify(answer.selfCheck)}`);
    assert.ok(answer.cost.length > 0 && Math.max(0, ...numbers(answer.cost)) > 0, `badge-cost shows ${JSON.stringify(answer.cost)}`);
    assert.ok((await e2e.remoteRequests()) > requestsBefore, "the test remote server received no request");
    metrics.escalated_cost_text = answer.cost;

    await e2e.clickInLastAnswer(driver, "compare-button");
    const local = await shown(driver, "compare-local");
    const remote = await shown(driver, "compare-remote");
    assert.ok((await local.getText()).trim().length > 0, "compare-local is empty");
    assert.ok((await remote.getText()).trim().length > 0, "compare-remote is empty");
    assert.notEqual((await local.getText()).trim(), (await remote.getText()).trim(), "compare shows the same text twice");
    await e2e.screenshot(driver, "compare", ["compare-local", "compare-remote", "badge-cost", "badge-reason"]);
  });

  test("5. history lists every question and filters the escalated ones", { timeout: 2 * MINUTE }, async () => {
    await navigate(driver, "history");
    await poll(async () => (await count(driver, "history-row")) >= 2, { timeout: 10_000, message: "≥ 2 history rows" });
    const all = await count(driver, "history-row");
    state.historyRows = all;
    const mixed = await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].map((el) => el.dataset.escalated);`, sel("history-row"));
    assert.ok(mixed.includes("false"), `no local row in the history: ${mixed}`);
    assert.ok(mixed.includes("true"), `no escalated row in the history: ${mixed}`);

    await click(driver, "history-filter-escalated");
    const flags = await poll(
      async () => {
        const f = await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].map((el) => el.dataset.escalated);`, sel("history-row"));
        return f.length >= 1 && f.every((x) => x === "true") ? f : null;
      },
      { timeout: 10_000, message: "only escalated history rows" },
    );
    assert.ok(flags.length < all, "the filter removed no row");
    const total = await textOf(driver, "history-total-cost");
    assert.ok(Math.max(0, ...numbers(total)) > 0, `history-total-cost shows ${JSON.stringify(total)}`);
    await e2e.screenshot(driver, "history", ["view-history", "history-row", "history-total-cost", "history-filter-escalated"]);
    await click(driver, "history-filter-escalated");
    await poll(async () => (await count(driver, "history-row")) === all, { timeout: 10_000, message: "the unfiltered list back" });

    // Text search over questions and answers.
    await type(driver, "history-search", "founded");
    const found = await poll(async () => {
      const texts = await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].map((el) => el.textContent);`, sel("history-row"));
      return texts.length >= 1 && texts.length < all ? texts : null;
    }, { timeout: 10_000, message: "history rows narrowed by the search" });
    assert.ok(found.every((t) => /founded/i.test(t)), `a row without "founded": ${JSON.stringify(found)}`);
    assert.ok(found.some((t) => t.includes(fx.LOCAL_QUESTION)), `the question "${fx.LOCAL_QUESTION}" is not found`);
    await type(driver, "history-search", "zzqx-no-such-words");
    await poll(async () => (await count(driver, "history-row")) === 0, { timeout: 10_000, message: "no row for words nobody wrote" });
    // Cleared as a person does (select all, delete), which fires the input event the search listens to.
    await (await shown(driver, "history-search")).sendKeys(Key.chord(Key.CONTROL, "a"), Key.BACK_SPACE);
    await poll(async () => (await count(driver, "history-row")) === all, { timeout: 10_000, message: "every row back after clearing the search" });
  });

  test("6. with a zero budget nothing is sent or charged", { timeout: 5 * MINUTE }, async () => {
    const before = await historyTotal({ escalatedOnly: true });
    const requestsBefore = await e2e.remoteRequests();
    await saveBudget(0);
    const { answer } = await e2e.ask(driver, fx.BUDGET_ZERO_QUESTION);
    assert.equal(answer.state, "done");
    assert.ok(["local", "stayed-local"].includes(answer.badge), `badge ${answer.badge} with a zero budget`);
    assert.equal(answer.source, "local");
    metrics.zero_budget_badge = answer.badge;
    metrics.zero_budget_reason = answer.reason;

    // Asking the remote model by hand must be refused too.
    if (answer.hasAskRemote) {
      const button = await (await e2e.lastAnswerElement(driver)).findElement(tid("ask-remote"));
      if ((await button.isDisplayed()) && (await button.isEnabled())) {
        await e2e.clickElement(driver, button, "ask-remote");
        const outcome = await poll(
          async () => {
            const a = await e2e.lastAnswer(driver);
            if (a.source === "remote") return "remote";
            if (a.remoteNote) return `remote-note: ${a.remoteNote}`;
            // Only the budget's own refusal counts, not a leftover "Budget saved." toast.
            const refusals = await driver.findElements(By.css('[data-testid="toast"][data-code="budget_exceeded"]'));
            return refusals.length ? `toast: ${await refusals[0].getText()}` : null;
          },
          { timeout: 30_000, message: "ask-remote to be refused by the budget (remote-note or a budget_exceeded toast)" },
        );
        assert.notEqual(outcome, "remote", "ask-remote reached the remote model with a zero budget");
        metrics.zero_budget_ask_remote = outcome;
      } else {
        metrics.zero_budget_ask_remote = "disabled";
      }
    }
    assert.equal(await e2e.remoteRequests(), requestsBefore, "the remote server got a request with a zero budget");
    const after = await historyTotal({ escalatedOnly: true });
    assert.equal(after.text, before.text, "history-total-cost changed with a zero budget");
    await historyTotal({ escalatedOnly: false });
  });

  test("7. a failing remote keeps the local answer and says why", { timeout: 5 * MINUTE }, async () => {
    await saveBudget(5);
    const attempts = Number(process.env.E2E_REMOTE_ATTEMPTS || 4); // automix-remote's default max_attempts
    const requestsBefore = await e2e.remoteRequests();
    await e2e.queueFaults(Array(attempts).fill("server_error"));
    const { answer } = await e2e.ask(driver, fx.FAILURE_QUESTION);
    assert.notEqual(answer.state, "streaming");
    let final = answer;
    if (!answer.remoteNote) {
      assert.ok(answer.text.length > 0, "no local answer to escalate");
      assert.equal(answer.source, "local");
      await e2e.clickInLastAnswer(driver, "ask-remote");
      metrics.failure_path = "ask-remote";
    } else {
      metrics.failure_path = "router";
    }
    final = await poll(
      async () => {
        const a = await e2e.lastAnswer(driver);
        return a.remoteNote && a.state !== "streaming" ? a : null;
      },
      { timeout: 90_000, interval: 200, message: "remote-note after the remote failed" },
    );
    const note = await (await e2e.lastAnswerElement(driver)).findElement(tid("remote-note"));
    assert.ok(await note.isDisplayed(), "remote-note is not displayed");
    assert.ok(final.text.length > 0, "the local answer text disappeared after the remote failure");
    assert.notEqual(final.source, "remote");
    if (metrics.failure_path === "ask-remote") assert.equal(final.text, answer.text, "the local answer text changed");
    assert.ok((await e2e.remoteRequests()) - requestsBefore >= attempts, "the app gave up before trying every attempt (faults left queued)");
    metrics.remote_failure_note = final.remoteNote;
    await e2e.screenshot(driver, "remote-failure", ["remote-note", "answer-text"]);
  });

  test("8. spend view, settings view and the payload preview", { timeout: 3 * MINUTE }, async () => {
    await navigate(driver, "spend");
    const chart = await shown(driver, "spend-chart");
    const bars = await driver.executeScript(
      `const chart = document.querySelector(arguments[0]);
       return [...chart.querySelectorAll('rect.bar, [data-testid="spend-bar"]')].map((el) => el.getBoundingClientRect().height);`,
      sel("spend-chart"),
    );
    metrics.spend_bar_heights_px = bars.map((h) => Number(h.toFixed(3)));
    assert.ok(bars.length >= 1, "spend-chart has no bar although money was spent today");
    assert.ok((await chart.getRect()).height > 10, "spend-chart has no height");
    for (const id of ["spend-remaining", "spend-share"]) {
      assert.ok((await textOf(driver, id)).length > 0, `${id} is empty`);
    }
    assert.ok(numbers(await textOf(driver, "spend-share")).some((n) => n > 0), "spend-share shows no escalation although one was paid");
    const remaining = numbers(await textOf(driver, "spend-remaining"));
    assert.ok(remaining.some((n) => n > 4 && n <= 5), `spend-remaining ${JSON.stringify(remaining)} is not a little under the 5 budget`);
    await e2e.screenshot(driver, "spend", ["view-spend", "spend-chart", "spend-remaining", "spend-share"]);

    await navigate(driver, "settings");
    await e2e.screenshot(driver, "settings", ["view-settings", "settings-remote-endpoint", "settings-budget-monthly", "key-status", "model-row"]);
    await type(driver, "payload-question", fx.PAYLOAD_QUESTION);
    await click(driver, "payload-preview-button");
    const preview = await poll(async () => {
      const t = await textOf(driver, "payload-preview");
      return t.includes(fx.PAYLOAD_QUESTION) ? t : null;
    }, { timeout: 30_000, message: "payload-preview to contain the question" });
    assert.ok(preview.includes("gpt-4o-mini"), "the payload preview does not name the remote model");
    assert.ok(!preview.includes("sk-e2e-"), "the payload preview shows the API key");
  });

  test("8c. the chat's preview of a follow-up shows the earlier turns it would send", { timeout: 2 * MINUTE }, async () => {
    const requestsBefore = await e2e.remoteRequests();
    await navigate(driver, "chat");
    await type(driver, "question-input", fx.PAYLOAD_QUESTION);
    await click(driver, "chat-preview-button");
    const preview = await poll(async () => {
      const t = await textOf(driver, "chat-payload-preview");
      return t && t.includes(fx.PAYLOAD_QUESTION) ? t : null;
    }, { timeout: 30_000, message: "chat-payload-preview to contain the question" });
    assert.ok(preview.includes("assistant"), `no earlier answer in the preview: ${preview.slice(0, 400)}`);
    assert.ok(preview.includes(fx.LOCAL_QUESTION) || preview.includes("Brindlewood"), "no earlier question in the preview");
    assert.equal(await e2e.remoteRequests(), requestsBefore, "a preview sends nothing");
    await click(driver, "passage-close");
    await driver.executeScript(`document.querySelector(arguments[0]).value = "";`, sel("question-input"));
  });

  test("8b. the spend chart shows today's spending as a visible bar", { timeout: MINUTE }, async () => {
    await navigate(driver, "spend");
    await shown(driver, "spend-chart");
    const heights = await driver.executeScript(
      `const chart = document.querySelector(arguments[0]);
       return [...chart.querySelectorAll('rect.bar, [data-testid="spend-bar"]')].map((el) => el.getBoundingClientRect().height);`,
      sel("spend-chart"),
    );
    // A bar a person can see: at least one on-screen pixel tall, not merely present in the SVG.
    assert.ok(heights.length >= 1, "spend-chart has no bar");
    assert.ok(heights.some((h) => h >= 1), `spend-chart's bars are invisible: rendered heights ${JSON.stringify(heights.map((h) => Number(h.toFixed(3))))} px`);
  });

  test("8d. the router's calibration runs from Settings with progress and stops when asked, keeping the shipped one", { timeout: 3 * MINUTE }, async () => {
    const documentsBefore = await (async () => { await navigate(driver, "documents"); return count(driver, "document-row"); })();
    await navigate(driver, "settings");
    const row = `[data-testid="model-row"][data-model-id="smollm2-135m-instruct"]`;
    const routerCell = () => driver.executeScript(
      `const cell = document.querySelector(arguments[0] + ' [data-testid="model-router"]'); return cell && [cell.dataset.state, cell.textContent];`, row);
    const [stateBefore, textBefore] = await poll(routerCell, { message: "the SmolLM2 row's router cell" });
    assert.equal(stateBefore, "calibrated", `router cell before: ${textBefore}`);
    assert.match(textBefore, /calibrated \(shipped\): right on \d+% of \d+/);
    // The model table is redrawn as its data arrives: a button found just before a redraw is
    // stale, so it is looked up again until a click lands.
    const clickInRow = (id) => poll(async () => {
      await e2e.clickElement(driver, await driver.findElement(By.css(`${row} [data-testid="${id}"]`)), id);
      return true;
    }, { timeout: 10_000, message: `a click on ${id}` });
    await clickInRow("model-calibrate");
    const [, progress] = await poll(async () => {
      const cell = await routerCell();
      return cell && ["indexing", "answering"].includes(cell[0]) && /calibrating/.test(cell[1]) ? cell : null;
    }, { timeout: 60_000, message: "the router cell to show the calibration's progress" });
    metrics.calibration_progress_text = progress;
    await clickInRow("model-calibrate-cancel");
    const [, textAfter] = await poll(async () => {
      const cell = await routerCell();
      return cell && cell[0] === "calibrated" ? cell : null;
    }, { timeout: 60_000, message: "the router cell to be back on the shipped calibration after stopping" });
    assert.equal(textAfter, textBefore, "a stopped calibration changed what the router routes on");
    await poll(() => driver.executeScript(
      `return [...document.querySelectorAll('[data-testid="toast"]')].some((t) => t.dataset.code === "cancelled" && /stopped/.test(t.textContent));`),
    { timeout: 15_000, message: "a toast saying the calibration stopped" });
    await navigate(driver, "documents");
    assert.equal(await count(driver, "document-row"), documentsBefore, "calibrating touched the user's library");
  });

  test("8e. a private folder: its passages never leave, a mixed question sends only the rest", { timeout: 6 * MINUTE }, async () => {
    await e2e.dismissToasts(driver);
    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "private-"));
    fs.writeFileSync(path.join(folder, fx.PRIVATE_NAME), fx.PRIVATE_TEXT);
    await navigate(driver, "documents");
    const rowsBefore = await count(driver, "document-row");
    await type(driver, "path-input", folder);
    await click(driver, "add-path-button");
    await poll(async () => (await count(driver, "document-row")) === rowsBefore + 1, { timeout: 120_000, interval: 250, message: "the private folder's document row" });
    const realFolder = fs.realpathSync(folder);
    const folderBox = await driver.findElement(By.css(`[data-testid="folder-row"][data-path="${realFolder}"] [data-testid="folder-private"]`));
    await e2e.clickElement(driver, folderBox, "folder-private");
    const kilnId = await poll(() => driver.executeScript(`
      const row = [...document.querySelectorAll('[data-testid="document-row"]')].find((r) => r.textContent.includes(arguments[0]));
      const box = row && row.querySelector('[data-testid="document-private"]');
      return box && box.checked && box.disabled ? Number(row.dataset.documentId) : null;`, fx.PRIVATE_NAME),
    { timeout: 15_000, message: "the folder's document marked private by its folder" });
    await e2e.screenshot(driver, "private-folder", ["folder-list", "document-private"]);

    // Read only from the private document: stays local, says why; asking the remote model is refused.
    const requestsBefore = await e2e.remoteRequests();
    await navigate(driver, "chat");
    await click(driver, "scope-chosen");
    const kilnBox = await driver.findElement(By.css(`[data-testid="scope-document"][data-document-id="${kilnId}"]`));
    await e2e.clickElement(driver, kilnBox, "scope-document");
    const { answer: privateAnswer } = await e2e.ask(driver, fx.PRIVATE_QUESTION);
    assert.equal(privateAnswer.badge, "stayed-local", JSON.stringify(privateAnswer));
    assert.match(privateAnswer.reason, /private document, which never leaves this device/, privateAnswer.reason);
    await e2e.screenshot(driver, "private-badge", ["badge", "badge-reason"]);
    if (privateAnswer.hasAskRemote) {
      await e2e.clickInLastAnswer(driver, "ask-remote");
      await poll(() => driver.executeScript(`return [...document.querySelectorAll('[data-testid="toast"]')].some((t) => t.dataset.code === "only_private_passages");`),
        { timeout: 15_000, message: "a toast refusing to send private passages" });
      await e2e.dismissToasts(driver);
    }
    assert.equal(await e2e.remoteRequests(), requestsBefore, "a request left for an answer read only from a private document");

    // A mixed question over the whole library: the preview says what stays, the request lacks it.
    await click(driver, "scope-all");
    await type(driver, "question-input", fx.MIXED_QUESTION);
    await click(driver, "chat-preview-button");
    // The dialog still holds an earlier preview until this one arrives.
    const previewText = await poll(async () => {
      const text = await textOf(driver, "chat-payload-preview");
      return text.includes(fx.MIXED_QUESTION) ? text : null;
    }, { timeout: 30_000, message: "the preview of the mixed question" });
    assert.match(previewText, /Kept on this device: \d+ passages? from (a )?private documents?/, previewText);
    for (const secret of fx.PRIVATE_SECRETS) assert.ok(!previewText.includes(secret), `the preview shows ${secret} as sent`);
    await e2e.screenshot(driver, "private-preview", ["chat-payload-preview", "payload-withheld"]);
    await click(driver, "passage-close");
    const { answer: mixed } = await e2e.ask(driver, fx.MIXED_QUESTION);
    if (mixed.badge !== "escalated") await askRemoteByHand("the mixed question");
    const received = await e2e.receivedRequests();
    assert.equal(received.length, requestsBefore + 1, "the mixed question sent more or less than one request");
    const body = JSON.stringify(received[received.length - 1].body);
    for (const secret of fx.PRIVATE_SECRETS) assert.ok(!body.includes(secret), `the request carried the private ${secret}`);
    assert.ok(body.includes("Brindlewood"), "the shareable passages were not sent");
    metrics.private_mixed_request_bytes = received[received.length - 1].body_bytes;
  });

  test("8h. redaction: the preview shows placeholders, and only they reach the remote model", { timeout: 4 * MINUTE }, async () => {
    await navigate(driver, "settings");
    const mask = await shown(driver, "settings-mask-personal");
    await e2e.sleep(500); // the view fills its fields from the engine
    if (!(await mask.isSelected())) await e2e.clickElement(driver, mask, "settings-mask-personal");
    await type(driver, "settings-mask-words", fx.REDACTED_WORD);
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);

    await navigate(driver, "chat");
    await type(driver, "question-input", fx.REDACTION_QUESTION);
    await click(driver, "chat-preview-button");
    const preview = await poll(async () => {
      const text = await textOf(driver, "chat-payload-preview");
      return text.includes("[EMAIL_1]") ? text : null;
    }, { timeout: 30_000, message: "the preview with the e-mail address masked" });
    assert.ok(!preview.includes(fx.REDACTED_EMAIL) && !preview.includes(fx.REDACTED_WORD), "the preview shows masked text as sent");
    assert.match(await textOf(driver, "payload-masked"), /1 e-mail address, \d+ listed words? (is|are) masked/);
    await e2e.screenshot(driver, "private-redaction", ["chat-payload-preview", "payload-masked"]);
    await click(driver, "passage-close");

    const before = await e2e.remoteRequests();
    const { answer } = await e2e.ask(driver, fx.REDACTION_QUESTION);
    if (answer.badge !== "escalated") await askRemoteByHand("the redacted question");
    const received = await e2e.receivedRequests();
    assert.equal(received.length, before + 1);
    const body = JSON.stringify(received[received.length - 1].body);
    assert.ok(!body.includes(fx.REDACTED_EMAIL) && !body.includes(fx.REDACTED_WORD), "masked text reached the remote model");
    assert.ok(body.includes("[EMAIL_1]") && body.includes("[WORD_1]"), "the placeholders were not sent");
  });

  test("8f. the network log lists every request the server received, byte for byte", { timeout: 2 * MINUTE }, async () => {
    const received = await e2e.receivedRequests();
    await navigate(driver, "network");
    await poll(async () => (await count(driver, "network-row")) === received.length, { timeout: 15_000, message: `${received.length} network rows` });
    const rows = await driver.executeScript(`return [...document.querySelectorAll('[data-testid="network-row"]')].map((r) => ({ sent: r.dataset.bytesSent, status: r.dataset.status, purpose: r.dataset.purpose }));`);
    rows.reverse(); // the view lists the newest first
    assert.deepEqual(rows.map((r) => Number(r.sent)), received.map((r) => r.body_bytes), "bytes sent per request differ from what the server received");
    assert.ok(rows.every((r) => r.purpose === "escalation"), "a request other than an escalation");
    metrics.network_rows = rows.length;
    metrics.network_statuses = rows.map((r) => r.status);
    await e2e.screenshot(driver, "network", ["view-network", "network-summary", "network-row"]);
  });

  test("8g. the conversation and the history export to Markdown and JSON with their receipts", { timeout: 2 * MINUTE }, async () => {
    const dir = process.env.AUTOMIX_EXPORT_DIR;
    assert.ok(dir, "AUTOMIX_EXPORT_DIR is not set (run tests/e2e/run.sh)");
    await navigate(driver, "chat");
    await e2e.dismissToasts(driver);
    const answers = await count(driver, "answer");
    assert.ok(answers >= 1, "no conversation is open to export");
    const exported = async (testid, extension) => {
      await click(driver, testid);
      const file = await poll(() => driver.executeScript(`
        const t = [...document.querySelectorAll('[data-testid="toast"]')].map((t) => t.textContent).find((t) => t.includes("Exported to "));
        return t ? t.replace(/^.*Exported to /, "").replace(/×$/, "").trim() : null;`), { timeout: 15_000, message: "the export toast" });
      assert.ok(file.startsWith(dir) && file.endsWith(extension), `exported to ${file}`);
      return fs.readFileSync(file, "utf8");
    };
    const markdown = await exported("conversation-export-markdown", ".md");
    await e2e.screenshot(driver, "export", ["toast", "conversation-export-markdown"]);
    assert.match(markdown, /^# .+\n\nExported from AutoMix on \d{4}-\d{2}-\d{2} /, markdown.slice(0, 200));
    assert.equal((markdown.match(/^## /gm) || []).length, answers, "one section per answer in the conversation");
    for (const part of ["**Why:**", "**Sources**", "Escalated to gpt-4o-mini"]) assert.ok(markdown.includes(part), `the Markdown export lacks ${part}`);
    await e2e.dismissToasts(driver);
    const json = JSON.parse(await exported("conversation-export-json", ".json"));
    assert.equal(json.answers.length, answers);
    assert.ok(json.answers.some((a) => a.decision === "escalate" && a.cost > 0 && a.remote_answer), "the JSON export lacks the escalated answer with its cost");
    metrics.export_markdown_bytes = markdown.length;
  });

  test("8i. the local API: switched on in Settings, asked from outside, found in History with its client", { timeout: 4 * MINUTE }, async () => {
    await e2e.dismissToasts(driver);
    await navigate(driver, "settings");
    const toggle = await shown(driver, "settings-local-api");
    await e2e.sleep(500); // the view fills its fields from the engine
    assert.equal(await toggle.isSelected(), false, "the local API is off until the user switches it on");
    assert.equal(await (await shown(driver, "local-api-status")).getAttribute("data-state"), "off");
    const port = await e2e.freePort();
    await e2e.clickElement(driver, toggle, "settings-local-api");
    await type(driver, "settings-local-api-port", port);
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);
    const status = await poll(async () => {
      const el = await driver.findElement(By.css('[data-testid="local-api-status"]'));
      return (await el.getAttribute("data-state")) === "running" ? el.getText() : null;
    }, { timeout: 15_000, message: "the local API to run" });
    const base = `http://127.0.0.1:${port}/v1`;
    assert.ok(status.includes(base), status);
    await click(driver, "local-api-show-token");
    const token = await poll(async () => (await driver.findElement(By.css('[data-testid="local-api-token"]'))).getAttribute("value"), { timeout: 10_000, message: "the access token" });
    assert.match(token, /^amx-[0-9a-f]{48}$/);
    await e2e.screenshot(driver, "local-api-settings", ["settings-local-api", "local-api-status"]);

    // A program on this computer asks, as any OpenAI client would.
    const refused = await fetch(`${base}/models`);
    assert.equal(refused.status, 401, "no token, no answer");
    const response = await fetch(`${base}/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "automix-local", user: "e2e-script", messages: [{ role: "system", content: fx.API_CONTEXT }, { role: "user", content: fx.API_QUESTION }] }),
    });
    assert.equal(response.status, 200);
    const body = await response.json();
    assert.ok(body.choices[0].message.content.trim(), JSON.stringify(body));
    assert.equal(body.automix.decision, "stay_local");
    assert.equal(response.headers.get("x-automix-decision"), "stay_local");

    await navigate(driver, "history");
    const tag = await poll(async () => {
      for (const el of await driver.findElements(By.css('[data-testid="history-api-client"]'))) {
        const text = await el.getText();
        if (text === "API · e2e-script") return el;
      }
      return null;
    }, { timeout: 15_000, message: "the API request in History with its client" });
    const row = await tag.findElement(By.xpath("ancestor::li[@data-testid='history-row']"));
    assert.ok((await row.getText()).includes(fx.API_QUESTION), "the row shows the question asked through the API");
    assert.ok(await row.findElement(By.css(".badge")), "with its badge");
    await e2e.screenshot(driver, "local-api-history", ["history-api-client"]);
    metrics.local_api_answer_chars = body.choices[0].message.content.length;

    // Switched off, the port closes.
    await navigate(driver, "settings");
    await e2e.sleep(500);
    await e2e.clickElement(driver, await shown(driver, "settings-local-api"), "settings-local-api");
    await click(driver, "settings-save");
    await poll(async () => (await driver.findElement(By.css('[data-testid="local-api-status"]')).getAttribute("data-state")) === "off", { timeout: 15_000, message: "the local API to stop" });
    await assert.rejects(fetch(`${base}/models`, { headers: { authorization: `Bearer ${token}` } }), "nothing listens once it is off");
  });

  test("8j. a scanned page is read by OCR, shown with its confidence, and a question about it is cited at that page", { timeout: 5 * MINUTE }, async () => {
    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "scan-"));
    const born = path.join(folder, "ferry.pdf");
    fs.writeFileSync(born, fx.labelledPdf([fx.SCAN_FACT]));
    // The page as a scanner at 150 dpi would have made it: pixels only, no text layer.
    const scan = path.join(folder, "quillmere-ferry-scan.pgm");
    execFileSync(e2e.CLI, ["docs", "rasterise", born, "--dpi", "150", scan], { env: { ...process.env, AUTOMIX_HOME: path.join(folder, "cli-home") } });
    const row = await e2e.addDocument(driver, scan, "quillmere-ferry-scan");
    const button = await driver.findElement(By.css(`[data-testid="document-row"][data-document-id="${row.id}"] [data-testid="show-text"]`));
    await e2e.clickElement(driver, button, "show-text");
    const page = await poll(async () => {
      const found = await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].map((el) => el.textContent);`, sel("document-page"));
      return found.length === 1 ? found[0] : null;
    }, { timeout: 15_000, message: "the scan's one page" });
    assert.match(page, /Page 1 · read by OCR, \d+% sure/);
    assert.match(page, /Quillmere ferry leaves the north pier/);
    metrics.ocr_page_heading = page.slice(0, 40);
    await e2e.screenshot(driver, "ocr-text", ["document-text-dialog", "document-page"]);
    await click(driver, "document-text-close");

    const { answer } = await e2e.ask(driver, fx.SCAN_QUESTION);
    assert.equal(answer.state, "done", JSON.stringify(answer));
    const chips = await driver.executeScript(
      `const all = document.querySelectorAll('[data-testid="answer"]');
       return [...all[all.length - 1].querySelectorAll('[data-testid="citation-chip"]')].map((el) => el.textContent);`);
    assert.ok(chips.some((chip) => /quillmere-ferry-scan/i.test(chip) && /p\. 1/.test(chip)), `no citation of the scan's page 1: ${JSON.stringify(chips)}`);
    metrics.ocr_answer = answer.text.slice(0, 120);
    await e2e.screenshot(driver, "ocr-answer", ["answer", "citation-chip"]);
  });

  test("ending the session closes the app", { timeout: 2 * MINUTE }, async () => {
    metrics.app_peak_rss_kb = e2e.procStatus(pid, "VmHWM");
    metrics.webview_rss_kb = e2e.descendants(pid).reduce((sum, child) => sum + (e2e.procStatus(child, "VmRSS") || 0), 0);
    assert.ok(metrics.app_peak_rss_kb >= metrics.rss_after_model_load_kb);
    const stopping = Date.now();
    await app.stop();
    metrics.session_end_ms = Date.now() - stopping;
    // A loaded 2-core CI machine has taken over 20 s here once; the time is reported, and a dump of
    // the app's threads says where it waits when it is slow.
    const slow = setTimeout(() => console.error(`# the app (pid ${pid}) is still running 10 s after its session ended:\n${e2e.threadStates(pid)}`), 10_000);
    try {
      const exitedAt = await poll(() => (!e2e.alive(pid) ? Date.now() : null), { timeout: 60_000, message: `the app (pid ${pid}) to exit` });
      metrics.app_exit_ms = exitedAt - stopping;
    } finally {
      clearTimeout(slow);
    }
  });
});
