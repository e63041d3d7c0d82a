// Shared plumbing for the end-to-end tests: WebKitWebDriver sessions on the real app, test-id
// selectors, polling helpers, screenshot checks, process metrics and the test remote server.
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";
import { Builder, By, Key, until } from "selenium-webdriver";
import { PNG } from "pngjs";

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR || path.join(REPO, "target");
export const APP = process.env.APP || path.join(targetDir, "release", "automix-app");
/** The command line built beside the app. */
export const CLI = path.join(targetDir, "release", "automix");
export const OUT = process.env.E2E_OUT || path.join(targetDir, "e2e");
export const REMOTE = process.env.AUTOMIX_E2E_REMOTE || "";
export const DRIVER = process.env.WEBKIT_WEBDRIVER || "/usr/bin/WebKitWebDriver";
fs.mkdirSync(OUT, { recursive: true });

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const tid = (id) => By.css(`[data-testid="${id}"]`);
/** CSS for a test id, for use inside executeScript. */
export const sel = (id) => `[data-testid="${id}"]`;

// ---------------------------------------------------------------- driver & session

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForDriver(port, child, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`WebKitWebDriver exited early with code ${child.exitCode}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/status`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`WebKitWebDriver did not answer on port ${port} within ${timeoutMs} ms`);
}

function exited(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts WebKitWebDriver on a free port and opens a session that launches the app.
 * Returns { driver, driverProcess, sessionStartedAt, stop() }.
 */
export async function startApp() {
  assert.ok(fs.existsSync(APP), `the app binary ${APP} does not exist (build it first)`);
  const port = await freePort();
  const log = fs.openSync(path.join(OUT, `webkitwebdriver-${port}.log`), "w");
  const driverProcess = spawn(DRIVER, [`--port=${port}`], {
    env: { ...process.env, TAURI_WEBVIEW_AUTOMATION: "true" },
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  await waitForDriver(port, driverProcess);
  const capabilities = {
    browserName: "wry",
    "webkitgtk:browserOptions": { binary: APP, args: [] },
  };
  const sessionStartedAt = Date.now();
  let driver;
  try {
    driver = await new Builder().usingServer(`http://127.0.0.1:${port}`).withCapabilities(capabilities).build();
  } catch (error) {
    await stopDriverProcess(driverProcess);
    throw error;
  }
  await driver.manage().setTimeouts({ script: 60_000, implicit: 0 });
  let stopped = false;
  return {
    driver,
    driverProcess,
    sessionStartedAt,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await Promise.race([driver.quit(), sleep(15_000).then(() => { throw new Error("driver.quit() timed out"); })]);
      } catch (error) {
        console.error(`# quitting the session: ${error.message}`);
      }
      await stopDriverProcess(driverProcess);
    },
  };
}

/** SIGTERM first; SIGKILL only if it ignores TERM for 10 s. */
async function stopDriverProcess(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  if (!(await exited(child, 10_000))) {
    console.error("# WebKitWebDriver ignored SIGTERM for 10 s; sending SIGKILL");
    child.kill("SIGKILL");
    await exited(child, 5_000);
  }
}

// ---------------------------------------------------------------- polling helpers

/** Polls `fn` (async) until it returns a truthy value; returns that value. */
export async function poll(fn, { timeout = 30_000, interval = 100, message = "condition" } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let lastError;
  while (Date.now() < deadline) {
    try {
      last = await fn();
      if (last) return last;
    } catch (error) {
      lastError = error;
    }
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${message}` + (lastError ? ` (last error: ${lastError.message})` : "") + (last !== undefined ? ` (last value: ${JSON.stringify(last)})` : ""));
}

/** Waits until an element with this test id exists and is displayed; returns it. */
export async function shown(driver, id, timeout = 15_000) {
  const element = await driver.wait(until.elementLocated(tid(id)), timeout, `[data-testid=${id}] never appeared`);
  await driver.wait(until.elementIsVisible(element), timeout, `[data-testid=${id}] never became visible`);
  return element;
}

/** What covers the centre of `element` (for messages about intercepted clicks). */
async function coveredBy(driver, element) {
  return driver.executeScript(
    `const r = arguments[0].getBoundingClientRect();
     const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
     if (!top || arguments[0].contains(top)) return null;
     const owner = top.closest("[data-testid]");
     return top.tagName.toLowerCase() + (top.className ? "." + String(top.className).split(" ").join(".") : "") +
       (owner ? " in [data-testid=" + owner.dataset.testid + "]" : "") + ": " + (top.textContent || "").trim().slice(0, 60);`,
    element,
  );
}

/** Intercepted clicks seen during the run (an overlay covering a control), for the report. */
export const intercepted = [];

/**
 * Clicks like a person would: if something covers the element (a toast over the Ask button), it
 * waits for it to go away, as a person would, and records what covered it. An error toast stays
 * until dismissed, so a person closes it: so does this.
 */
export async function clickElement(driver, element, name, timeout = 15_000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      await element.click();
      return element;
    } catch (error) {
      if (error.name !== "ElementClickInterceptedError" || Date.now() > deadline) throw error;
      const cover = await coveredBy(driver, element).catch(() => null);
      if (!intercepted.some((x) => x.target === name && x.cover === cover)) {
        intercepted.push({ target: name, cover });
        console.log(`# click on ${name} intercepted by ${cover}; waiting for it to go away`);
      }
      await driver.executeScript(
        `const r = arguments[0].getBoundingClientRect();
         const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
         top?.closest(".toast.error")?.querySelector("[aria-label=Dismiss]")?.click();`,
        element,
      ).catch(() => {});
      await sleep(250);
    }
  }
}

/** Clicks the element with this test id once it is displayed and enabled. */
export async function click(driver, id, timeout = 15_000) {
  const element = await shown(driver, id, timeout);
  await driver.wait(until.elementIsEnabled(element), timeout, `[data-testid=${id}] stayed disabled`);
  return clickElement(driver, element, id, timeout);
}

/**
 * Replaces the value of a text/number input or textarea, the way a person types it. A view that
 * finishes loading while we type may refill the field, so a mismatch is typed again (3 tries).
 */
export async function type(driver, id, value) {
  const element = await shown(driver, id);
  let actual;
  for (let attempt = 0; attempt < 3; attempt++) {
    await element.clear();
    // clear() is not guaranteed to fire `input`; select-all + delete removes whatever is left.
    if (await element.getAttribute("value")) await element.sendKeys(Key.chord(Key.CONTROL, "a"), Key.BACK_SPACE);
    await element.sendKeys(String(value));
    actual = await element.getAttribute("value");
    if (actual === String(value)) return element;
    await sleep(300);
  }
  assert.fail(`typing ${JSON.stringify(String(value))} into [data-testid=${id}] left ${JSON.stringify(actual)}`);
}

/** Sets a range input (sliders do not take keystrokes portably) and fires input + change. */
export async function setRange(driver, id, value) {
  await shown(driver, id);
  const result = await driver.executeScript(
    `const el = document.querySelector(arguments[0]);
     const setter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value").set;
     setter.call(el, arguments[1]);
     el.dispatchEvent(new Event("input", { bubbles: true }));
     el.dispatchEvent(new Event("change", { bubbles: true }));
     return el.value;`,
    sel(id),
    String(value),
  );
  assert.equal(Number(result), Number(value), `slider ${id} is at ${result}`);
}

/** Opens a view; each view reloads its data from the engine when shown, so give it a moment. */
export async function navigate(driver, view) {
  await click(driver, `nav-${view}`);
  await shown(driver, `view-${view}`);
  await sleep(300);
}

/** Text of the first element with this test id ("" when absent). */
export async function textOf(driver, id, root = null) {
  return driver.executeScript(
    `const root = arguments[1] || document; const el = root.querySelector(arguments[0]); return el ? el.textContent.trim() : "";`,
    sel(id),
    root,
  );
}

export async function count(driver, id) {
  return driver.executeScript(`return document.querySelectorAll(arguments[0]).length;`, sel(id));
}

/** Every number in a text, e.g. "$0.0012 of $5.00" → [0.0012, 5]. */
export function numbers(text) {
  return (text.replace(/,(?=\d{3}\b)/g, "").match(/\d+(?:\.\d+)?/g) || []).map(Number);
}

/** Dismisses the first-run panel when it is shown (it may cover the views). */
export async function dismissFirstRun(driver) {
  const visible = await driver.executeScript(
    `const el = document.querySelector(arguments[0]); return !!el && el.offsetParent !== null;`,
    sel("first-run-dismiss"),
  );
  if (visible) await click(driver, "first-run-dismiss");
}

// ---------------------------------------------------------------- set-up steps

/** Waits until the UI is up and the local model is ready; fails at once on "failed" or "missing". */
export async function waitUntilReady(driver) {
  await poll(() => driver.executeScript(`return document.body && document.body.dataset.ready === "true";`), {
    timeout: 60_000,
    interval: 20,
    message: "body[data-ready=true]",
  });
  const seen = new Set();
  await poll(
    async () => {
      const s = await driver.executeScript(`const el = document.querySelector(arguments[0]); return el ? el.dataset.state : null;`, sel("model-status"));
      seen.add(s);
      assert.notEqual(s, "failed", `model-status failed: ${await textOf(driver, "model-status")}`);
      assert.notEqual(s, "missing", "model-status says missing: the models copied into AUTOMIX_HOME/models were not found");
      return s === "ready";
    },
    { timeout: 120_000, interval: 20, message: 'model-status data-state="ready"' },
  );
  return seen;
}

/** Adds the file at `file` in the documents view and waits for its "added" report and its row,
 * which names `title`; returns the row ({ id, text }). */
export async function addDocument(driver, file, title) {
  const name = path.basename(file);
  await navigate(driver, "documents");
  const rowsBefore = await count(driver, "document-row");
  await type(driver, "path-input", file);
  await click(driver, "add-path-button");
  const report = await poll(
    () =>
      driver.executeScript(
        `const reports = [...document.querySelectorAll(arguments[0])];
         const r = reports.find((el) => el.textContent.includes(arguments[1]) || reports.length === 1);
         return r ? { status: r.dataset.status, text: r.textContent.trim() } : null;`,
        sel("file-report"),
        name,
      ),
    { timeout: 180_000, interval: 250, message: "a file-report for the document" },
  );
  assert.equal(report.status, "added", `file-report: ${report.text}`);
  await poll(async () => (await count(driver, "document-row")) > rowsBefore, { timeout: 15_000, message: "a new document-row" });
  const rows = await driver.executeScript(
    `return [...document.querySelectorAll(arguments[0])].map((el) => ({ id: el.dataset.documentId, text: el.textContent }));`,
    sel("document-row"),
  );
  const row = rows.find((r) => r.text.includes(title) || r.text.includes(name));
  assert.ok(row, `no document-row names the document: ${JSON.stringify(rows)}`);
  assert.match(String(row.id), /^\d+$/, "document-row has no numeric data-document-id");
  return row;
}

/** Saves a monthly budget in Settings and waits until the spend view shows it. */
export async function saveBudget(driver, monthly) {
  await navigate(driver, "settings");
  await type(driver, "settings-budget-monthly", monthly);
  await click(driver, "settings-save-budget");
  // The spend view (re-read from the engine on every visit) must show the new limit.
  await poll(
    async () => {
      await navigate(driver, "spend");
      return numbers(await textOf(driver, "spend-limit")).includes(monthly);
    },
    { timeout: 15_000, interval: 300, message: `spend-limit to show the monthly budget ${monthly}` },
  );
}

// ---------------------------------------------------------------- answers

/** State of the newest answer in the chat: {n, id, source, state, badge, text, ...}. */
export async function lastAnswer(driver) {
  return driver.executeScript(`
    const all = document.querySelectorAll('[data-testid="answer"]');
    if (!all.length) return { n: 0 };
    const a = all[all.length - 1];
    const q = (id) => a.querySelector('[data-testid="' + id + '"]');
    const text = (id) => (q(id) ? q(id).textContent.trim() : "");
    const badge = q("badge");
    return {
      n: all.length,
      id: a.getAttribute("data-question-id"),
      source: a.getAttribute("data-source"),
      state: a.getAttribute("data-state"),
      badge: badge ? badge.getAttribute("data-badge") : null,
      question: text("answer-question"),
      text: text("answer-text"),
      reason: text("badge-reason"),
      cost: text("badge-cost"),
      selfCheck: text("self-check"),
      citations: a.querySelectorAll('[data-testid="citation-chip"]').length,
      remoteNote: text("remote-note"),
      hasAskRemote: !!q("ask-remote"),
      hasCompare: !!q("compare-button"),
    };`);
}

/** The newest answer element itself. */
export async function lastAnswerElement(driver) {
  const all = await driver.findElements(tid("answer"));
  assert.ok(all.length > 0, "there is no answer in the chat");
  return all[all.length - 1];
}

/** Clicks a test id inside the newest answer. */
export async function clickInLastAnswer(driver, id) {
  const answer = await lastAnswerElement(driver);
  const element = await answer.findElement(tid(id));
  await driver.wait(until.elementIsVisible(element), 10_000, `${id} in the last answer is not visible`);
  await driver.wait(until.elementIsEnabled(element), 10_000, `${id} in the last answer stays disabled`);
  await clickElement(driver, element, id);
  return element;
}

/**
 * Asks a question in the chat view and waits until its answer is finished.
 * Returns { answer, firstTokenMs, firstTokenInPageMs, totalMs }.
 * firstTokenMs: from just before the click on ask-button until the new answer-text shows text
 * (not the "…" placeholder),
 * polled every 20 ms with executeScript; firstTokenInPageMs: the same seen from inside the page
 * (click handler + MutationObserver), without the WebDriver round trips.
 */
export async function ask(driver, question, { timeout = 180_000 } = {}) {
  await navigate(driver, "chat");
  const before = (await lastAnswer(driver)).n;
  await type(driver, "question-input", question);
  await driver.executeScript(
    `const before = arguments[0];
     window.__e2e = {};
     const button = document.querySelector('[data-testid="ask-button"]');
     button.addEventListener("click", () => { window.__e2e.click = performance.now(); }, { once: true, capture: true });
     const observer = new MutationObserver(() => {
       const all = document.querySelectorAll('[data-testid="answer"]');
       if (all.length <= before) return;
       const t = all[all.length - 1].querySelector('[data-testid="answer-text"]');
       const text = t ? t.textContent.trim() : "";
       if (text && text !== "…") { window.__e2e.token = performance.now(); observer.disconnect(); }
     });
     observer.observe(document.body, { subtree: true, childList: true, characterData: true });`,
    before,
  );
  const askButton = await shown(driver, "ask-button");
  await driver.wait(until.elementIsEnabled(askButton), 30_000, "ask-button stays disabled");
  // Wait until nothing covers the button before starting the clock.
  const cover = await coveredBy(driver, askButton);
  if (cover !== null) {
    if (!intercepted.some((x) => x.target === "ask-button" && x.cover === cover)) intercepted.push({ target: "ask-button", cover });
    console.log(`# ask-button is covered by ${cover}; waiting for it to go away`);
    await poll(async () => (await coveredBy(driver, askButton)) === null, { timeout: 20_000, message: "ask-button to be uncovered" }).catch(() => {});
  }
  const clickedAt = Date.now();
  await clickElement(driver, askButton, "ask-button");
  let firstTokenMs = null;
  const deadline = clickedAt + timeout;
  while (Date.now() < deadline) {
    const seen = await driver.executeScript(
      `const all = document.querySelectorAll('[data-testid="answer"]');
       if (all.length <= arguments[0]) return false;
       const t = all[all.length - 1].querySelector('[data-testid="answer-text"]');
       const text = t ? t.textContent.trim() : "";
       return text !== "" && text !== "…"; // "…" is the placeholder shown until the first token`,
      before,
    );
    if (seen) {
      firstTokenMs = Date.now() - clickedAt;
      break;
    }
    const state = await lastAnswer(driver);
    if (state.n > before && state.state && state.state !== "streaming") break; // finished without text
    await sleep(20);
  }
  const answer = await poll(
    async () => {
      const state = await lastAnswer(driver);
      return state.n > before && ["done", "failed", "cancelled"].includes(state.state) ? state : null;
    },
    { timeout: Math.max(1_000, deadline - Date.now()), interval: 200, message: `the answer to "${question}" to finish` },
  );
  // The conversation is free for the next question (or an "Ask <model>") once Ask is enabled again.
  await poll(() => driver.executeScript(`const b = document.querySelector(arguments[0]); return b && !b.disabled;`, sel("ask-button")), {
    timeout: 30_000,
    message: "ask-button to be enabled after the answer",
  });
  const inPage = await driver.executeScript(`const e = window.__e2e || {}; return e.click && e.token ? e.token - e.click : null;`);
  return { answer, firstTokenMs, firstTokenInPageMs: inPage === null ? null : Math.round(inPage), totalMs: Date.now() - clickedAt };
}

// ---------------------------------------------------------------- screenshots

export async function twoFrames(driver) {
  await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
    requestAnimationFrame(() => requestAnimationFrame(() => done(true)));`);
}

/** Statistics of a PNG: distinct colours and the standard deviation of its luminance. */
export function pngStats(buffer) {
  const png = PNG.sync.read(buffer);
  const colours = new Set();
  let sum = 0;
  let sumSquares = 0;
  const pixels = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    colours.add((r << 16) | (g << 8) | b);
    const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += y;
    sumSquares += y * y;
  }
  const mean = sum / pixels;
  return { width: png.width, height: png.height, colours: colours.size, stddev: Math.sqrt(Math.max(0, sumSquares / pixels - mean * mean)) };
}

/**
 * Checks the key elements are displayed, waits two frames, saves target/e2e/<name>.png and
 * asserts the picture is not blank.
 */
export async function screenshot(driver, name, keyIds) {
  for (const id of keyIds) {
    const element = await shown(driver, id);
    assert.ok(await element.isDisplayed(), `${id} is not displayed for the ${name} screenshot`);
  }
  await twoFrames(driver);
  const data = Buffer.from(await driver.takeScreenshot(), "base64");
  const file = path.join(OUT, `${name}.png`);
  fs.writeFileSync(file, data);
  const stats = pngStats(data);
  assert.ok(stats.width >= 400 && stats.height >= 300, `${name}.png is only ${stats.width}×${stats.height}`);
  assert.ok(stats.colours >= 64, `${name}.png looks blank: ${stats.colours} distinct colours`);
  assert.ok(stats.stddev >= 8, `${name}.png looks blank: luminance stddev ${stats.stddev.toFixed(1)}`);
  return { file, ...stats };
}

// ---------------------------------------------------------------- processes & metrics

/**
 * Pid of the live automix-app process of this test run: a descendant of `driverPid` (the
 * WebKitWebDriver that launched it) when given, else the newest one whose AUTOMIX_HOME is ours
 * (other copies of the app may be running on the machine). null when none.
 */
export function appPid(driverPid = null) {
  const isApp = (pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "automix-app" && alive(pid);
    } catch {
      return false;
    }
  };
  if (driverPid) {
    const found = descendants(driverPid).filter(isApp);
    if (found.length) return found[0];
  }
  let pids = [];
  try {
    pids = execFileSync("pgrep", ["-x", "automix-app"], { encoding: "utf8" }).trim().split("\n").filter(Boolean).map(Number);
  } catch {
    // pgrep exits 1 when nothing matches
  }
  const home = process.env.AUTOMIX_HOME;
  const ours = (pid) => {
    try {
      const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      return !home || environ.includes(`AUTOMIX_HOME=${home}`);
    } catch {
      return false;
    }
  };
  // Zombies are left behind here (PID 1 does not reap), so keep live ones, newest start last.
  const live = pids.filter((pid) => isApp(pid) && ours(pid)).sort((a, b) => startTime(a) - startTime(b));
  return live.length ? live[live.length - 1] : null;
}

function startTime(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return 0;
  }
}

export function procStatus(pid, field) {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** Pids of every descendant of `pid` (the webview's WebKit processes). */
export function descendants(pid) {
  const children = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  const found = [];
  const queue = [pid];
  while (queue.length) {
    for (const child of children.get(queue.shift()) || []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) Z /.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

/**
 * What each thread of `pid` is doing (state and kernel wait channel), and the last lines of the
 * app's log: printed when the app is slow to exit, so a CI log says where it waits.
 */
export function threadStates(pid) {
  const lines = [];
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const read = (name) => {
        try {
          return fs.readFileSync(`/proc/${pid}/task/${tid}/${name}`, "utf8").trim();
        } catch {
          return "?";
        }
      };
      const stat = read("stat");
      const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
      lines.push(`${tid} ${read("comm")} ${state} ${read("wchan")}`);
    }
  } catch (error) {
    lines.push(`(threads of ${pid} unreadable: ${error.message})`);
  }
  for (const child of descendants(pid)) {
    try {
      const cmdline = fs.readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0").join(" ").trim();
      const stat = fs.readFileSync(`/proc/${child}/stat`, "utf8");
      lines.push(`child ${child} ${stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0]}: ${cmdline.slice(0, 160)}`);
    } catch {
      // gone meanwhile
    }
  }
  const logs = process.env.AUTOMIX_HOME ? path.join(process.env.AUTOMIX_HOME, "logs") : null;
  if (logs && fs.existsSync(logs)) {
    for (const file of fs.readdirSync(logs).sort().slice(-1)) {
      lines.push(`-- last lines of ${file}:`, ...fs.readFileSync(path.join(logs, file), "utf8").trimEnd().split("\n").slice(-15));
    }
  }
  return lines.join("\n");
}

const metricsFile = path.join(OUT, "metrics.json");
export function recordMetrics(values) {
  let current = {};
  try {
    current = JSON.parse(fs.readFileSync(metricsFile, "utf8"));
  } catch {
    // first write
  }
  const merged = { ...current, ...values };
  fs.writeFileSync(metricsFile, JSON.stringify(merged, null, 2) + "\n");
  return merged;
}

// ---------------------------------------------------------------- the test remote server

/** Server root (its routes: /v1/chat/completions, /control/faults, /control/requests). */
export function remoteRoot() {
  assert.ok(REMOTE, "AUTOMIX_E2E_REMOTE is not set (run tests/e2e/run.sh)");
  return REMOTE.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** The endpoint the app wants: OpenAI-compatible, up to /v1. */
export function remoteEndpoint() {
  return `${remoteRoot()}/v1`;
}

export async function remoteRequests() {
  const response = await fetch(`${remoteRoot()}/control/requests`);
  assert.equal(response.status, 200, "GET /control/requests failed");
  return (await response.json()).requests;
}

/** Closes every toast, as a person clears them before the next step. */
export async function dismissToasts(driver) {
  await driver.executeScript(`document.querySelectorAll('[data-testid="toast"] [aria-label="Dismiss"]').forEach((b) => b.click());`);
}

/** Every chat request the test server received, oldest first: `{ body_bytes, body }`. */
export async function receivedRequests() {
  const response = await fetch(`${remoteRoot()}/control/received`);
  assert.equal(response.status, 200, "GET /control/received failed");
  return response.json();
}

/** Picks "Ask me before sending" in Settings (always, above or never) and saves. */
export async function chooseAskBeforeSending(driver, value) {
  await navigate(driver, "settings");
  const select = await shown(driver, "settings-ask-before-sending");
  await sleep(500); // the view fills its fields from the engine
  await clickElement(driver, select, "settings-ask-before-sending");
  await clickElement(driver, await select.findElement(By.css(`option[value="${value}"]`)), `ask-before-sending option ${value}`);
  await poll(async () => (await select.getAttribute("value")) === value, { timeout: 5_000, message: `settings-ask-before-sending = ${value}` });
  await click(driver, "settings-save");
  await shown(driver, "settings-saved", 10_000);
}

/** The newest answer's approval card once it has loaded what would be sent, else null. */
export async function approvalCard(driver, timeout = 20_000) {
  return poll(() => driver.executeScript(`
    const all = document.querySelectorAll('[data-testid="answer"]');
    const card = all.length ? all[all.length - 1].querySelector('[data-testid="approval-card"]') : null;
    if (!card || card.dataset.state !== "ready") return null;
    const text = (id) => { const el = card.querySelector('[data-testid="' + id + '"]'); return el ? el.textContent : ""; };
    return {
      summary: text("approval-summary"),
      payload: text("approval-payload"),
      withheld: text("approval-withheld"),
      send: text("approval-send"),
      passages: [...card.querySelectorAll('[data-testid="approval-passage"]')].map((box) => ({
        index: Number(box.dataset.index), checked: box.checked, disabled: box.disabled,
        source: box.closest("label").textContent.replace(/^\\[\\d+\\] /, "").replace(/ · private, never sent$/, ""),
      })),
    };`), { timeout, interval: 200, message: "the approval card of the newest answer" });
}

export async function queueFaults(faults) {
  const response = await fetch(`${remoteRoot()}/control/faults`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(faults),
  });
  assert.equal(response.status, 204, `POST /control/faults answered ${response.status}`);
}
