// 9. Restart: a new session (a new app process) on the AUTOMIX_HOME 01-app.test.mjs filled.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import * as e2e from "./lib.mjs";

const { poll, shown, navigate, count, textOf, sel } = e2e;
const MINUTE = 60_000;
let app;
let driver;
const metrics = {};

/** What the first suite left for this one; without it there is nothing to check a restart against. */
function previousState() {
  const file = path.join(e2e.OUT, "state.json");
  assert.ok(fs.existsSync(file), `${file} is missing: the first suite (01-app) did not run to its end, so the restart cannot be checked`);
  const state = JSON.parse(fs.readFileSync(file, "utf8"));
  assert.ok(state.historyRows >= 2, `the first suite recorded ${state.historyRows} history rows in ${file}; a restart needs its questions to check`);
  return state;
}

describe("AutoMix after a restart", { timeout: 10 * MINUTE }, () => {
  before(async () => {
    await poll(() => !e2e.appPid(), { timeout: 20_000, message: "the app of the previous session (same AUTOMIX_HOME) to exit" });
    app = await e2e.startApp();
    driver = app.driver;
  });

  after(async () => {
    const pid = app ? e2e.appPid(app.driverProcess.pid) : null;
    if (pid) metrics.restart_peak_rss_kb = e2e.procStatus(pid, "VmHWM");
    if (app) await app.stop();
    if (pid && e2e.alive(pid)) {
      await e2e.sleep(5_000);
      if (e2e.alive(pid)) {
        console.error(`# the app (pid ${pid}) outlived its session; sending SIGTERM`);
        process.kill(pid, "SIGTERM");
      }
    }
    console.log(JSON.stringify(e2e.recordMetrics(metrics)));
  });

  test("9. history, remote settings and budget survive a restart", { timeout: 5 * MINUTE }, async () => {
    await poll(() => driver.executeScript(`return document.body && document.body.dataset.ready === "true";`), {
      timeout: 60_000,
      interval: 20,
      message: "body[data-ready=true]",
    });
    metrics.warm_start_ui_ready_ms = Date.now() - app.sessionStartedAt;
    await poll(
      () => driver.executeScript(`const el = document.querySelector(arguments[0]); return el && el.dataset.state === "ready";`, sel("model-status")),
      { timeout: 120_000, interval: 20, message: 'model-status data-state="ready"' },
    );
    metrics.warm_start_model_ready_ms = Date.now() - app.sessionStartedAt;
    // Not a first run any more: documents and questions exist.
    const firstRunShown = await driver.executeScript(
      `const el = document.querySelector(arguments[0]); return !!el && el.offsetParent !== null;`,
      sel("first-run"),
    );
    assert.equal(firstRunShown, false, "the first-run panel is shown again after a restart");

    const expected = previousState();
    await navigate(driver, "history");
    const rows = await poll(async () => {
      const n = await count(driver, "history-row");
      return n >= expected.historyRows ? n : null;
    }, { timeout: 15_000, message: `at least ${expected.historyRows} history rows` });
    metrics.history_rows_after_restart = rows;
    const escalated = await driver.executeScript(
      `return [...document.querySelectorAll(arguments[0])].filter((el) => el.dataset.escalated === "true").length;`,
      sel("history-row"),
    );
    assert.ok(escalated >= 1, "the escalated answer is gone from the history");

    // The escalation 01-app left waiting for approval is still waiting after the restart, unsent.
    assert.ok(expected.pendingQuestionId, "the first suite left no escalation waiting for approval");
    await navigate(driver, "chat");
    const pendingState = () => driver.executeScript(
      `const a = document.querySelector('[data-testid="answer"][data-question-id="' + arguments[0] + '"]');
       if (!a) return null;
       const card = a.querySelector('[data-testid="approval-card"]');
       return card ? card.dataset.state : "no card";`, expected.pendingQuestionId);
    let cardState = null;
    // Choosing a conversation redraws the list: each item is looked up again.
    const conversations = (await driver.findElements(e2e.tid("conversation-item"))).length;
    for (let i = 0; i < conversations; i++) {
      const item = (await driver.findElements(e2e.tid("conversation-item")))[i];
      if (!item) break;
      await e2e.clickElement(driver, item, "conversation-item");
      cardState = await poll(pendingState, { timeout: 3_000, message: "the conversation's answers" }).catch(() => null);
      if (cardState !== null) break;
    }
    if (cardState === "loading") cardState = await poll(async () => ((await pendingState()) === "ready" ? "ready" : null), { timeout: 15_000, message: "the pending card to load" });
    assert.equal(cardState, "ready", `answer ${expected.pendingQuestionId} is not waiting for approval after the restart (${cardState})`);
    await e2e.screenshot(driver, "approve-after-restart", ["approval-card", "approval-send"]);

    await navigate(driver, "documents");
    await shown(driver, "document-row");

    await navigate(driver, "settings");
    const value = (id) => driver.executeScript(`const el = document.querySelector(arguments[0]); return el ? el.value : null;`, sel(id));
    await poll(async () => (await value("settings-remote-model")) === "gpt-4o-mini", { timeout: 10_000, message: "settings-remote-model = gpt-4o-mini" });
    assert.equal((await value("settings-remote-endpoint")).replace(/\/+$/, ""), e2e.remoteEndpoint());
    await poll(async () => Number(await value("settings-budget-monthly")) === 5, { timeout: 10_000, message: "settings-budget-monthly = 5" });
    assert.equal(Number(await value("settings-quality-cost")), 0, "the quality↔cost slider was not kept");
    const key = await textOf(driver, "key-status");
    assert.ok(/WXYZ|\bset\b/i.test(key) && !/not set/i.test(key), `key-status after restart: ${key}`);
    await e2e.screenshot(driver, "settings-after-restart", ["view-settings", "settings-remote-model", "settings-budget-monthly"]);
  });
});
