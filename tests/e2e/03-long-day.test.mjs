// 10. A long day of use: 100 questions through the chat, in a new session on the AUTOMIX_HOME the
// suites before left (it runs last: 02-restart checks 01's state before this adds its questions,
// documents and conversations). It adds two documents of its own, then asks in several
// conversations, with follow-ups and some questions scoped to one chosen document. The app
// process's resident memory after the 100th answer must stay within 10% of what it was after the
// 50th (each the highest reading of the ten answers up to it; see below why); the webview's
// WebKit processes (children of the app) are logged beside it. Every other
// conversation runs with "Never escalate" on, so the day mixes local and escalated answers.
// Self-contained: where the suites before did not leave them, it adds the document 01-app adds and
// configures the test remote model and a budget itself.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { By } from "selenium-webdriver";
import * as e2e from "./lib.mjs";
import * as fx from "./fixtures.mjs";

const { poll, shown, click, type, navigate, count, sel } = e2e;
const MINUTE = 60_000;
const QUESTION_COUNT = 100;
const CONVERSATION_LENGTH = 10;
let app;
let driver;
let pid = null;
const metrics = {};

const GARDEN_NAME = "linden-road-allotments.md";
const GARDEN_TEXT = `# The allotment garden on Linden Road

The Linden Road allotments opened in 1962 and have 48 plots, each ten metres by twenty. A plot
costs 35 pounds a year, and the gate is locked at nine in the evening.

The committee meets on the first Sunday of every month in the green shed by the pond. Its chair is
Harold Pemberton, a retired postman who grows prize-winning leeks. The secretary, Amira Khan,
keeps the waiting list, which has 61 names on it.

The annual show is held on the last Saturday of August. Prizes are given for the heaviest marrow,
the longest runner bean and the best jar of jam; in 2023 the marrow prize went to a marrow of
18 kilograms.
`;
const FRANCE_NAME = "france-facts.md";
const FRANCE_TEXT = `# France

France is a country in Western Europe. Its capital and largest city is Paris, which lies on the
river Seine. Other large cities include Marseille, Lyon and Toulouse.

France has a population of about 68 million people. The official language is French, and the
currency is the euro, which replaced the French franc in 2002.

The Eiffel Tower, built for the 1889 World's Fair, is the most visited paid monument in the world.
Mont Blanc, on the border with Italy, is the highest mountain in Western Europe at 4,806 metres.
`;

/** [document title word, question]: the word picks the document when the question is scoped. */
const QUESTIONS = [
  ["Brindlewood", "Who founded Brindlewood Ceramics?"],
  ["Brindlewood", "When was the Tidewater mug first sold?"],
  ["Brindlewood", "How many people does Brindlewood employ?"],
  ["Brindlewood", "What is the Fjordglass glaze made from?"],
  ["Brindlewood", "Where is most of Brindlewood's pottery exported?"],
  ["Brindlewood", "Who is the head potter at Brindlewood?"],
  ["Brindlewood", "When did the workshop move into the herring cannery?"],
  ["Brindlewood", "When is the shop in Vardømoen open?"],
  ["Brindlewood", "Which prize did Brindlewood win in 2012?"],
  ["Brindlewood", "How many Tidewater mugs were sold in 2021?"],
  ["allotment", "When did the Linden Road allotments open?"],
  ["allotment", "How many plots do the allotments have?"],
  ["allotment", "How much does a plot cost a year?"],
  ["allotment", "Who chairs the allotment committee?"],
  ["allotment", "When does the allotment committee meet?"],
  ["allotment", "Who keeps the waiting list for plots?"],
  ["allotment", "When is the annual show held?"],
  ["allotment", "How heavy was the winning marrow in 2023?"],
  ["France", "What is the capital of France?"],
  ["France", "Which river does Paris lie on?"],
  ["France", "How many people live in France?"],
  ["France", "When did the euro replace the franc?"],
  ["France", "When was the Eiffel Tower built?"],
  ["France", "How high is Mont Blanc?"],
  ["France", "Which large cities are there in France besides Paris?"],
];
const FOLLOW_UPS = ["And why is that?", "Can you say more about it?", "When was that?", "Who else is mentioned there?", "Is that still true today?"];
const PHRASINGS = ["{}", "Briefly: {}", "Please tell me: {}", "Quick question. {}", "I was wondering: {}"];

/** The n-th question (0-based): { text, word, followUp }. Every 100 are different strings. */
function question(n) {
  const inConversation = n % CONVERSATION_LENGTH;
  if (inConversation % 4 === 3) {
    const ordinal = Math.floor(n / CONVERSATION_LENGTH) * 2 + (inConversation === 3 ? 0 : 1);
    const text = PHRASINGS[Math.floor(ordinal / FOLLOW_UPS.length) % PHRASINGS.length].replace("{}", FOLLOW_UPS[ordinal % FOLLOW_UPS.length]);
    return { text, word: QUESTIONS[(n - 1) % QUESTIONS.length][0], followUp: true };
  }
  const [word, text] = QUESTIONS[n % QUESTIONS.length];
  return { text: PHRASINGS[Math.floor(n / QUESTIONS.length) % PHRASINGS.length].replace("{}", text), word, followUp: false };
}

/** Resident memory (KiB) of the app process, and of its WebKit processes (its descendants) summed. */
function memory() {
  const children = e2e.descendants(pid);
  const webkit = children.reduce((sum, child) => sum + (e2e.procStatus(child, "VmRSS") || 0), 0);
  return { app: e2e.procStatus(pid, "VmRSS"), webkit, children: children.length };
}

const mib = (kib) => Math.round((kib / 1024) * 10) / 10;

async function addDocument(folder, name, text) {
  const file = path.join(folder, name);
  fs.writeFileSync(file, text);
  await navigate(driver, "documents");
  await type(driver, "path-input", file);
  await click(driver, "add-path-button");
  await poll(
    () => driver.executeScript(`return [...document.querySelectorAll(arguments[0])].some((el) => el.textContent.includes(arguments[1]) && el.dataset.status === "added");`, sel("file-report"), name),
    { timeout: 180_000, interval: 250, message: `a file-report saying ${name} was added` },
  );
}

/**
 * The test remote model and a budget, as 01-app leaves them; set here when they are missing (this
 * suite run alone, or 01-app stopped early), so that the day always mixes in escalations.
 */
async function ensureRemote() {
  if (!e2e.REMOTE) return false;
  await navigate(driver, "settings");
  const value = (id) => driver.executeScript(`const el = document.querySelector(arguments[0]); return el ? el.value : null;`, sel(id));
  await shown(driver, "settings-remote-endpoint");
  await e2e.sleep(500); // the view fills its fields from the engine
  if (!(await value("settings-remote-endpoint")) || !(await value("settings-remote-model"))) {
    await type(driver, "settings-remote-endpoint", e2e.remoteEndpoint());
    await type(driver, "settings-remote-model", "gpt-4o-mini");
    await click(driver, "settings-save");
    await shown(driver, "settings-saved", 10_000);
  }
  // The day tests the router sending by itself: no approval card waits for a click.
  if ((await value("settings-ask-before-sending")) !== "never") await e2e.chooseAskBeforeSending(driver, "never");
  if (!(Number(await value("settings-budget-monthly")) > 0)) {
    await type(driver, "settings-budget-monthly", 5);
    await click(driver, "settings-save-budget");
    await poll(
      async () => {
        await navigate(driver, "spend");
        return e2e.numbers(await e2e.textOf(driver, "spend-limit")).includes(5);
      },
      { timeout: 15_000, interval: 300, message: "spend-limit to show the monthly budget 5" },
    );
  }
  return true;
}

/** Switches "Never escalate" in Settings and saves (the engine applies it at once). */
async function setNeverEscalate(on) {
  await navigate(driver, "settings");
  const box = await shown(driver, "settings-never-escalate");
  if ((await box.isSelected()) !== on) await e2e.clickElement(driver, box, "settings-never-escalate");
  await click(driver, "settings-save");
  await shown(driver, "settings-saved", 10_000);
  const home = process.env.AUTOMIX_HOME;
  if (home) {
    await poll(() => new RegExp(`^never_escalate = ${on}$`, "m").test(fs.readFileSync(path.join(home, "settings.toml"), "utf8")), {
      timeout: 10_000,
      message: `never_escalate = ${on} in settings.toml`,
    });
  }
}

/** Searches all documents (word null) or only the one whose row names `word`. */
async function setScope(word) {
  await navigate(driver, "chat");
  if (word === null) {
    await click(driver, "scope-all");
    return;
  }
  await click(driver, "scope-chosen");
  const boxes = await poll(async () => {
    const found = await driver.findElements(By.css(`${sel("scope-document")}`));
    return found.length ? found : null;
  }, { timeout: 10_000, message: "the scope-document checkboxes" });
  let picked = 0;
  for (const box of boxes) {
    const label = await driver.executeScript(`return arguments[0].closest("label").textContent;`, box);
    const want = label.toLowerCase().includes(word.toLowerCase()) && picked === 0;
    if (want) picked++;
    if ((await box.isSelected()) !== want) await e2e.clickElement(driver, box, "scope-document");
  }
  assert.equal(picked, 1, `no document in the scope list names "${word}"`);
}

describe("A long day in the app", { timeout: 45 * MINUTE }, () => {
  before(async () => {
    await poll(() => !e2e.appPid(), { timeout: 20_000, message: "the app of the previous session (same AUTOMIX_HOME) to exit" });
    app = await e2e.startApp();
    driver = app.driver;
  });

  after(async () => {
    if (pid) metrics.long_day_peak_rss_kb = e2e.procStatus(pid, "VmHWM");
    const stopping = Date.now();
    if (app) await app.stop();
    if (pid) {
      // How long the app takes to exit after a long day (01-app checks it exits at all).
      const gone = await poll(() => !e2e.alive(pid), { timeout: 20_000, interval: 100, message: "the app to exit" }).catch(() => false);
      metrics.long_day_exit_ms = gone ? Date.now() - stopping : null;
      if (!gone) {
        console.error(`# the app (pid ${pid}) outlived its session by 20 s; sending SIGTERM`);
        process.kill(pid, "SIGTERM");
      }
    }
    console.log(JSON.stringify(e2e.recordMetrics(metrics)));
  });

  test(`10. ${QUESTION_COUNT} questions leave the app's resident memory within 10% of the 50th`, { timeout: 40 * MINUTE }, async () => {
    const started = Date.now();
    await poll(() => driver.executeScript(`return document.body && document.body.dataset.ready === "true";`), { timeout: 60_000, interval: 50, message: "body[data-ready=true]" });
    await poll(
      () => driver.executeScript(`const el = document.querySelector(arguments[0]); return el && el.dataset.state === "ready";`, sel("model-status")),
      { timeout: 120_000, interval: 50, message: 'model-status data-state="ready"' },
    );
    await e2e.dismissFirstRun(driver);
    pid = e2e.appPid(app.driverProcess.pid);
    assert.ok(pid, "no automix-app process of this session");
    const afterLoad = memory();

    const folder = fs.mkdtempSync(path.join(process.env.E2E_WORK || os.tmpdir(), "long-day-"));
    await addDocument(folder, GARDEN_NAME, GARDEN_TEXT);
    await addDocument(folder, FRANCE_NAME, FRANCE_TEXT);
    if (!(await driver.executeScript(`return [...document.querySelectorAll(arguments[0])].some((el) => el.textContent.includes("Brindlewood") || el.textContent.includes(arguments[1]));`, sel("document-row"), fx.DOCUMENT_NAME))) {
      await addDocument(folder, fx.DOCUMENT_NAME, fx.DOCUMENT_TEXT); // run alone, without 01-app's library
    }

    metrics.long_day_remote = await ensureRemote();
    const afterDocuments = memory();
    console.log(`# after load: app ${mib(afterLoad.app)} MiB, WebKit processes ${mib(afterLoad.webkit)} MiB; after adding the documents: app ${mib(afterDocuments.app)} MiB, WebKit ${mib(afterDocuments.webkit)} MiB`);

    // The app's resident memory swings by up to ~120 MiB from one answer to the next (memory the
    // allocator keeps and hands back: with MALLOC_ARENA_MAX=2 the swings and the plateau shrink),
    // so one reading is a coin toss against a 10% bound. It is read after every
    // answer; "after the 50th" is the highest reading of answers 41-50 and "after the 100th" the
    // highest of 91-100: steady growth moves both, a swing does not.
    const readings = []; // [answer number, app KiB, WebKit KiB]
    const decades = [];
    const asked = new Set();
    const badges = {};
    let answerMs = 0;
    const askingFrom = Date.now();
    for (let n = 0; n < QUESTION_COUNT; n++) {
      const { text, word, followUp } = question(n);
      if (n % CONVERSATION_LENGTH === 0) {
        await navigate(driver, "chat");
        await click(driver, "new-conversation");
        await poll(async () => (await count(driver, "answer")) === 0, { timeout: 10_000, message: "an empty thread after new-conversation" });
        // Every other conversation with escalation switched off, so the day mixes local and
        // escalated answers.
        await setNeverEscalate((n / CONVERSATION_LENGTH) % 2 === 1);
        // Every third conversation is about one chosen document; the others search all of them.
        await setScope((n / CONVERSATION_LENGTH) % 3 === 1 ? word : null);
      }
      asked.add(text);
      const { answer, totalMs } = await e2e.ask(driver, text);
      assert.equal(answer.state, "done", `answer ${n + 1} (${text}) ended ${answer.state}: ${JSON.stringify(answer)}`);
      assert.ok(answer.text.length > 0, `answer ${n + 1} (${text}) is empty`);
      assert.ok(followUp || answer.question === text || answer.question === "", `answer ${n + 1} shows the question ${answer.question}`);
      badges[answer.badge] = (badges[answer.badge] || 0) + 1;
      answerMs += totalMs;
      const m = memory();
      readings.push([n + 1, m.app, m.webkit]);
      if ((n + 1) % 10 === 0) {
        const app = readings.slice(-10).map((r) => r[1]);
        const decade = {
          answers: n + 1,
          seconds: Math.round((Date.now() - askingFrom) / 1000),
          app_mib: mib(m.app),
          app_min_mib: mib(Math.min(...app)),
          app_max_mib: mib(Math.max(...app)),
          webkit_mib: mib(m.webkit),
          webkit_processes: m.children,
          app_peak_mib: mib(e2e.procStatus(pid, "VmHWM")),
        };
        decades.push(decade);
        console.log(
          `# after ${n + 1} answers (${decade.seconds} s): app ${decade.app_mib} MiB (answers ${n - 8}-${n + 1}: ${decade.app_min_mib}-${decade.app_max_mib}, ` +
            `peak so far ${decade.app_peak_mib}), WebKit processes ${decade.webkit_mib} MiB (${m.children})`,
        );
      }
    }
    const askingMs = Date.now() - askingFrom;
    const windowMax = (last) => ({
      app: Math.max(...readings.slice(last - 10, last).map((r) => r[1])),
      webkit: Math.max(...readings.slice(last - 10, last).map((r) => r[2])),
    });
    const afterFifty = windowMax(50);
    const afterLast = windowMax(QUESTION_COUNT);
    await setNeverEscalate(false); // as the suites before left it
    Object.assign(metrics, {
      long_day_questions: QUESTION_COUNT,
      long_day_rss_after_load_kb: afterLoad.app,
      long_day_rss_after_documents_kb: afterDocuments.app,
      long_day_rss_after_50_kb: afterFifty.app,
      long_day_rss_after_last_kb: afterLast.app,
      long_day_rss_reading_50_kb: readings[49][1],
      long_day_rss_reading_last_kb: readings[QUESTION_COUNT - 1][1],
      long_day_webkit_rss_after_load_kb: afterLoad.webkit,
      long_day_webkit_rss_after_50_kb: afterFifty.webkit,
      long_day_webkit_rss_after_last_kb: afterLast.webkit,
      long_day_answer_ms_mean: Math.round(answerMs / QUESTION_COUNT),
      long_day_per_question_ms: Math.round(askingMs / QUESTION_COUNT),
      long_day_total_s: Math.round((Date.now() - started) / 1000),
      long_day_badges: badges,
      long_day_every_10: decades,
      long_day_app_rss_kb: readings.map((r) => r[1]),
    });
    console.log(
      `# long day: ${QUESTION_COUNT} answers in ${Math.round(askingMs / 1000)} s (${Math.round(askingMs / QUESTION_COUNT)} ms per question, ` +
        `${Math.round(answerMs / QUESTION_COUNT)} ms click to done); app resident after load ${mib(afterLoad.app)} MiB, after the documents ` +
        `${mib(afterDocuments.app)} MiB, after the 50th ${mib(afterFifty.app)} MiB (highest of 41-50; the 50th alone ${mib(readings[49][1])}), ` +
        `after the ${QUESTION_COUNT}th ${mib(afterLast.app)} MiB (highest of ${QUESTION_COUNT - 9}-${QUESTION_COUNT}; alone ` +
        `${mib(readings[QUESTION_COUNT - 1][1])}), ${((afterLast.app / afterFifty.app - 1) * 100).toFixed(1)}%; WebKit processes ` +
        `${mib(afterLoad.webkit)} → ${mib(afterFifty.webkit)} → ${mib(afterLast.webkit)} MiB; badges ${JSON.stringify(badges)}`,
    );
    assert.equal(asked.size, QUESTION_COUNT, "every question is a different string");
    assert.ok(
      afterLast.app <= afterFifty.app * 1.1,
      `the app's resident memory grew from ${mib(afterFifty.app)} MiB over answers 41-50 to ${mib(afterLast.app)} MiB over answers ` +
        `${QUESTION_COUNT - 9}-${QUESTION_COUNT} (more than 10%); every 10 answers: ${JSON.stringify(decades)}`,
    );
  });
});
