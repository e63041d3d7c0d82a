import { listen } from "@tauri-apps/api/event";
import {
  budgetGet, budgetSet, chatPreviewPayload, keyClear, keySet, keyStatus, localApiNewToken, localApiStatus, localApiToken, MODEL_CALIBRATION_EVENT,
  MODEL_SPEED_EVENT, modelsActivate,
  modelsCalibrate, modelsCancelCalibration, modelsForgetLearning, modelsList, modelsMeasure, settingsGet, settingsSet, type Budget, type CalibrationEvent,
  type CatalogModel, type KeyStatus, type LocalApiStatus, type Settings,
} from "../api";
import { downloadControls, emptyState, payloadPreview } from "../components";
import { field, h } from "../dom";
import { formatMoney } from "../lib/format";
import { debounce } from "../lib/debounce";
import { calibrating, downloadText, hasLearned, memoryText, routerText, speedText, testedText } from "../lib/models";
import { readLanguages, readNumber } from "../lib/parse";
import { watchStatus } from "../status";
import { showError, toast } from "../toast";
import type { View } from "./view";

const input = (testid: string, attrs: Record<string, string | number> = {}) =>
  h("input", { type: "text", "data-testid": testid, autocomplete: "off", spellcheck: "false", ...attrs });

function keyStatusText(k: KeyStatus): string {
  if (!k.set) return "No key";
  return k.last4 ? `Key set (…${k.last4})` : "Key set";
}

export function createSettingsView(): View {
  let settings: Settings | null = null;
  let budget: Budget | null = null;
  // Fields typed into while the view was loading keep what the user typed.
  const edited = new Set<EventTarget>();
  /** Counts the form's loads and saves, so that a slow load never refills it with older values. */
  let settingsLoads = 0;
  const set = (el: HTMLInputElement, value: string) => {
    if (!edited.has(el)) el.value = value;
  };

  const modelRows = h("tbody");

  const endpoint = input("settings-remote-endpoint", { type: "url", placeholder: "https://api.openai.com/v1" });
  const remoteModel = input("settings-remote-model", { placeholder: "gpt-4o-mini" });
  const priceIn = input("settings-price-in", { inputmode: "decimal", placeholder: "bundled price list" });
  const priceOut = input("settings-price-out", { inputmode: "decimal", placeholder: "bundled price list" });
  const accuracy = input("settings-remote-accuracy", { type: "number", min: 0, max: 1, step: 0.01 });
  const maxTokens = input("settings-max-remote-tokens", { type: "number", min: 1, step: 1 });
  const qualityCost = input("settings-quality-cost", { type: "range", min: 0, max: 1, step: 0.05 });
  const neverEscalate = h("input", { type: "checkbox", role: "switch", "data-testid": "settings-never-escalate" });
  const askBeforeSending = h("select", { "data-testid": "settings-ask-before-sending" },
    h("option", { value: "always" }, "Always ask me before sending"),
    h("option", { value: "above" }, "Ask when an answer could cost more than the amount below"),
    h("option", { value: "never" }, "Never ask: the router sends by itself, within the budget"));
  const askAbove = input("settings-ask-above", { inputmode: "decimal" });
  const askAboveField = field("Ask above this worst-case cost", askAbove);
  const maskPersonal = h("input", { type: "checkbox", "data-testid": "settings-mask-personal" });
  const maskWords = h("textarea", { rows: 3, "data-testid": "settings-mask-words", placeholder: "One word or name per line" });
  askBeforeSending.addEventListener("change", () => (askAboveField.hidden = askBeforeSending.value !== "above"));
  const contextTokens = input("settings-context-tokens", { type: "number", min: 256, step: 1 });
  const ocrLanguages = input("settings-ocr-languages", { placeholder: "eng+rus", spellcheck: "false", autocomplete: "off" });
  const apiEnabled = h("input", { type: "checkbox", role: "switch", "data-testid": "settings-local-api" });
  const apiPort = input("settings-local-api-port", { type: "number", min: 1024, max: 65535, step: 1 });
  const apiNetwork = h("input", { type: "checkbox", "data-testid": "settings-local-api-network" });
  const apiStatus = h("p", { class: "muted", "data-testid": "local-api-status", role: "status" });
  const apiToken = h("input", { type: "text", readonly: true, size: 54, "data-testid": "local-api-token", hidden: true, autocomplete: "off", spellcheck: "false" });
  const showToken = h("button", { type: "button", "data-testid": "local-api-show-token", onclick: revealToken }, "Show access token");
  const copyToken = h("button", { type: "button", "data-testid": "local-api-copy-token", onclick: copyApiToken }, "Copy");
  const newToken = h("button", { type: "button", "data-testid": "local-api-new-token", onclick: renewToken, title: "Programs using the old token are refused from now on" }, "New token");
  const saved = h("span", { class: "saved", "data-testid": "settings-saved", role: "status", hidden: true }, "Saved ✓");

  const apiKey = h("input", { type: "password", "data-testid": "settings-api-key", autocomplete: "off", placeholder: "sk-…" });
  const keyStatusEl = h("span", { class: "muted", "data-testid": "key-status" });

  const monthly = input("settings-budget-monthly", { inputmode: "decimal" });
  const cap = input("settings-budget-cap", { inputmode: "decimal", placeholder: "no cap" });
  const currencyNote = h("span", { class: "muted small" });

  const payloadQuestion = input("payload-question", { placeholder: "A question to preview" });
  const payloadOut = h("div", { class: "payload-preview", "data-testid": "payload-preview", "aria-live": "polite" });

  const settingsForm = h("form", { class: "settings-form", onsubmit: saveSettings, oninput: () => (saved.hidden = true) },
    h("h2", {}, "Remote model"),
    h("div", { class: "grid" },
      field("Endpoint (OpenAI-compatible, up to /v1)", endpoint),
      field("Model", remoteModel),
      field("Price per million input tokens", priceIn, "Empty: use the bundled price list"),
      field("Price per million output tokens", priceOut, "Empty: use the bundled price list"),
      field("Remote accuracy prior (0–1)", accuracy),
      field("Max remote answer tokens", maxTokens)),
    field("Ask me before sending", askBeforeSending,
      "When the router wants a better answer, the card shows exactly what would be sent, to whom and the worst-case cost; nothing leaves until you choose."),
    askAboveField,
    h("label", { class: "inline" }, maskPersonal, "Mask e-mail addresses, phone numbers, IBANs and card numbers before sending"),
    field("Also mask these words", maskWords, "Sent as placeholders like [WORD_1]; the answer you read shows them again."),
    h("h2", {}, "Routing"),
    h("label", { class: "field" },
      h("span", { class: "field-label" }, "Quality ↔ cost"),
      qualityCost,
      h("span", { class: "range-labels", "aria-hidden": "true" }, h("span", {}, "Best quality"), h("span", {}, "Lowest cost"))),
    h("label", { class: "inline" }, neverEscalate, "Never escalate (answer everything locally)"),
    field("Local context tokens", contextTokens),
    field("Scan languages (OCR)", ocrLanguages,
      "Tesseract's language codes joined by +, e.g. eng+rus+deu. Empty: English plus your system's language. A missing language pack is named on each scan that needs it."),
    h("h2", {}, "Local API"),
    h("p", { class: "muted small" },
      "Other programs on this computer (editors, note apps, scripts) can ask AutoMix through an OpenAI-compatible API: base URL below, ",
      "models automix (routed, within your budget), automix-local (never leaves this computer) and automix-docs (answers from your documents). ",
      "Their questions appear in History marked API."),
    h("label", { class: "inline" }, apiEnabled, "Serve the local API while AutoMix runs"),
    h("div", { class: "grid" },
      field("Port", apiPort),
      h("label", { class: "inline" }, apiNetwork, "Also accept other computers on the network (the access token is still required)")),
    apiStatus,
    h("div", { class: "row" }, showToken, apiToken, copyToken, newToken),
    h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", "data-testid": "settings-save" }, "Save"), saved));

  const root = h("section", { class: "view settings", "data-testid": "view-settings", "aria-labelledby": "settings-title", hidden: true },
    h("header", { class: "view-header" }, h("h1", { id: "settings-title" }, "Settings")),
    h("section", { id: "local-models", "aria-labelledby": "models-title" },
      h("h2", { id: "models-title" }, "Local models"),
      h("table", {},
        h("thead", {}, h("tr", {}, ...["Model", "Kind", "Download", "Memory", "Speed on this machine", "Router", "Tested here", "Quantization", "License", "Status", ""]
          .map((t) => h("th", { scope: "col" }, t)))),
        modelRows),
      h("p", { class: "muted small" },
        "Memory: the model file, its cache at your context length and a fixed overhead (≥: before the download, without the cache). ",
        "Speed: tokens per second reading a 128-token prompt (prefill) and writing 32 tokens (decode), measured after each download. ",
        "Router: how well it knows when this model's answers can be kept. A model without a calibration is calibrated after its ",
        "download, in the background: it answers a few hundred shipped questions, pausing while you ask, and can be cancelled and resumed.")),
    settingsForm,
    h("section", { "aria-labelledby": "key-title" },
      h("h2", { id: "key-title" }, "API key"),
      h("p", {}, keyStatusEl),
      h("form", { class: "row", onsubmit: saveKey },
        field("API key for the remote endpoint", apiKey, "Stored in the system keychain; never shown again."),
        h("button", { type: "submit", "data-testid": "settings-save-key" }, "Save key"),
        h("button", { type: "button", "data-testid": "settings-clear-key", onclick: clearKey }, "Clear"))),
    h("section", { "aria-labelledby": "budget-title" },
      h("h2", { id: "budget-title" }, "Budget"),
      h("form", { class: "row", onsubmit: saveBudget },
        field("Monthly budget", monthly),
        field("Per-answer cap", cap, "Empty: no cap"),
        h("button", { type: "submit", "data-testid": "settings-save-budget" }, "Save budget")),
      currencyNote),
    h("section", { "aria-labelledby": "preview-title" },
      h("h2", { id: "preview-title" }, "Preview what is sent"),
      h("form", { class: "row", onsubmit: preview },
        field("Question", payloadQuestion),
        h("button", { type: "submit", "data-testid": "payload-preview-button" }, "Preview")),
      payloadOut));

  const measuring = new Set<string>(); // measurements this view started and still awaits

  function renderModels(models: CatalogModel[]) {
    modelRows.replaceChildren(...(models.length ? models.map((m) => {
      const speed = measuring.has(m.id) && m.speed?.state !== "measuring" ? { state: "measuring" as const } : m.speed;
      return h("tr", { "data-testid": "model-row", "data-model-id": m.id, "data-installed": String(m.installed) },
        h("td", {}, m.name),
        h("td", {}, m.kind === "chat" ? "Chat" : "Embedding"),
        h("td", { class: "num", "data-testid": "model-download-size" }, downloadText(m)),
        h("td", { class: "num", "data-testid": "model-memory", title: m.memory_exact ? null : "Before the download: without the cache" }, memoryText(m)),
        h("td", { "data-testid": "model-speed", "data-state": speed?.state ?? "none" }, speedText(speed)),
        h("td", { "data-testid": "model-router", "data-state": routerState(m) }, routerText(m.router)),
        h("td", { "data-testid": "model-tested" }, testedText(m)),
        h("td", {}, m.quantization),
        h("td", {}, m.license),
        h("td", {}, m.active ? "Active" : m.installed ? "Installed" : "Not installed"),
        h("td", {},
          !m.installed ? downloadControls(m, () => void loadModels()) : null,
          m.installed && !m.active && m.kind === "chat"
            ? h("button", { type: "button", "data-testid": "model-activate", onclick: () => activate(m) }, "Use this model") : null,
          m.installed && m.kind === "chat"
            ? h("button", { type: "button", "data-testid": "model-measure", disabled: speed?.state === "measuring", onclick: () => measure(m) }, "Measure")
            : null,
          calibrationControl(m),
          hasLearned(m.router)
            ? h("button", { type: "button", "data-testid": "model-forget-learning", title: "Route on the calibration alone again", onclick: () => forgetLearning() }, "Forget what it learned")
            : null));
    }) : [h("tr", {}, h("td", { colspan: 11 }, emptyState("No models in the catalog.")))]));
  }

  /** "calibrated", "not_calibrated", or the run's state while one waits, runs or failed. */
  const routerState = (m: CatalogModel) => m.router?.run?.state ?? m.router?.calibration.state ?? "none";

  function calibrationControl(m: CatalogModel) {
    const router = m.router;
    if (!m.installed || router === null) return null;
    if (calibrating(router)) {
      return h("button", { type: "button", "data-testid": "model-calibrate-cancel", onclick: () => modelsCancelCalibration().catch(showError) }, "Stop calibrating");
    }
    if (router.calibration.state === "calibrated" && router.calibration.origin === "fitted_here") return null;
    const label = router.calibration.state === "calibrated" ? "Calibrate here"
      : router.calibration.answered > 0 ? "Go on calibrating" : "Calibrate";
    return h("button", { type: "button", "data-testid": "model-calibrate", onclick: () => calibrate(m) }, label);
  }

  async function forgetLearning() {
    try {
      await modelsForgetLearning();
      toast("The router forgot what your verdicts and escalations taught it.", { code: "learning_forgotten" });
    } catch (err) {
      showError(err);
    }
    await loadModels();
  }

  async function calibrate(m: CatalogModel) {
    try {
      await modelsCalibrate(m.id);
    } catch (err) {
      showError(err);
    }
    await loadModels();
  }

  let lastModels: CatalogModel[] = [];

  async function measure(m: CatalogModel) {
    measuring.add(m.id);
    renderModels(lastModels);
    try {
      const speed = await modelsMeasure(m.id);
      toast(`${m.name}: ${speedText({ state: "measured", ...speed })}`, { code: "measured" });
    } catch (err) {
      showError(err);
    } finally {
      measuring.delete(m.id);
      await loadModels();
    }
  }

  function fillSettings(s: Settings) {
    settings = s;
    set(endpoint, s.remote.endpoint);
    set(remoteModel, s.remote.model);
    set(priceIn, s.remote.input_per_million?.toString() ?? "");
    set(priceOut, s.remote.output_per_million?.toString() ?? "");
    set(accuracy, String(s.remote.accuracy));
    set(maxTokens, String(s.remote.max_tokens));
    set(qualityCost, String(s.quality_cost));
    if (!edited.has(neverEscalate)) neverEscalate.checked = s.never_escalate;
    if (!edited.has(askBeforeSending)) askBeforeSending.value = s.ask_before_sending;
    askAboveField.hidden = askBeforeSending.value !== "above";
    set(askAbove, String(s.ask_above));
    if (!edited.has(maskPersonal)) maskPersonal.checked = s.redaction.personal_data;
    if (!edited.has(maskWords)) maskWords.value = s.redaction.words.join("\n");
    set(contextTokens, String(s.context_tokens));
    set(ocrLanguages, s.ocr_languages);
    if (!edited.has(apiEnabled)) apiEnabled.checked = s.local_api.enabled;
    set(apiPort, String(s.local_api.port));
    if (!edited.has(apiNetwork)) apiNetwork.checked = s.local_api.allow_network;
  }

  function fillApiStatus(status: LocalApiStatus) {
    apiStatus.dataset.state = status.running ? "running" : status.error ? "failed" : "off";
    apiStatus.textContent = status.running
      ? `Serving at ${status.base_url}${status.network ? ` (and on the network at port ${status.listening_on?.split(":").pop()})` : ""}. Clients send the access token as their API key.`
      : status.error ? `Not running: ${status.error}` : "Off.";
  }

  async function refreshApiStatus() {
    try {
      fillApiStatus(await localApiStatus());
    } catch (err) {
      showError(err);
    }
  }

  async function revealToken() {
    try {
      apiToken.value = await localApiToken();
      apiToken.hidden = false;
      showToken.hidden = true;
    } catch (err) {
      showError(err);
    }
  }

  async function copyApiToken() {
    try {
      await navigator.clipboard.writeText(apiToken.hidden ? await localApiToken() : apiToken.value);
      toast("Access token copied.", { code: "token_copied" });
    } catch (err) {
      showError(err);
    }
  }

  async function renewToken() {
    try {
      fillApiStatus(await localApiNewToken());
      if (!apiToken.hidden) apiToken.value = await localApiToken();
      toast("A new access token is in use; programs with the old one are refused.", { code: "token_renewed" });
    } catch (err) {
      showError(err);
    }
  }

  function fillBudget(b: Budget) {
    budget = b;
    set(monthly, String(b.monthly_limit));
    set(cap, b.per_answer_cap?.toString() ?? "");
    currencyNote.textContent = `Amounts in ${b.currency}. Current limit ${formatMoney(b.monthly_limit, b.currency)} a month.`;
  }

  async function loadModels() {
    try {
      lastModels = await modelsList();
      renderModels(lastModels);
    } catch (err) {
      showError(err);
    }
  }

  async function activate(m: CatalogModel) {
    try {
      await modelsActivate(m.id);
      // Saving the form later must keep this choice, not the model the view opened with.
      if (settings) settings = { ...settings, local_model: m.id };
      toast(`Loading ${m.name}…`, { code: "activated" });
      watchStatus();
      await loadModels();
    } catch (err) {
      showError(err);
    }
  }

  async function saveSettings(e: Event) {
    e.preventDefault();
    if (!settings) return;
    try {
      const next: Settings = {
        local_model: settings.local_model,
        device: settings.device, // no control yet: saving keeps what the CLI set
        context_tokens: readNumber(contextTokens.value, "Context tokens", { integer: true, min: 1 })!,
        never_escalate: neverEscalate.checked,
        ask_before_sending: askBeforeSending.value as Settings["ask_before_sending"],
        ask_above: readNumber(askAbove.value, "Ask above", { min: 0 })!,
        redaction: { personal_data: maskPersonal.checked, words: maskWords.value.split("\n").map((w) => w.trim()).filter(Boolean) },
        quality_cost: Number(qualityCost.value),
        remote: {
          endpoint: endpoint.value.trim(),
          model: remoteModel.value.trim(),
          input_per_million: readNumber(priceIn.value, "Input price", { optional: true, min: 0 }),
          output_per_million: readNumber(priceOut.value, "Output price", { optional: true, min: 0 }),
          accuracy: readNumber(accuracy.value, "Remote accuracy", { min: 0, max: 1 })!,
          max_tokens: readNumber(maxTokens.value, "Max remote tokens", { integer: true, min: 1 })!,
        },
        local_api: {
          enabled: apiEnabled.checked,
          port: readNumber(apiPort.value, "Local API port", { integer: true, min: 1024, max: 65535 })!,
          allow_network: apiNetwork.checked,
        },
        ocr_languages: readLanguages(ocrLanguages.value),
      };
      const stored = await settingsSet(next);
      settingsLoads++; // a load still in flight read the settings before this save
      edited.clear();
      fillSettings(stored);
      saved.hidden = false;
    } catch (err) {
      showError(err);
    }
    // Saved even when the server could not start (a taken port): the status says why.
    await refreshApiStatus();
  }

  async function saveKey(e: Event) {
    e.preventDefault();
    const key = apiKey.value.trim();
    if (!key) return;
    try {
      keyStatusEl.textContent = keyStatusText(await keySet(key));
      apiKey.value = "";
      toast("API key saved.", { code: "key_saved" });
    } catch (err) {
      showError(err);
    }
  }

  async function clearKey() {
    try {
      keyStatusEl.textContent = keyStatusText(await keyClear());
      toast("API key cleared.", { code: "key_cleared" });
    } catch (err) {
      showError(err);
    }
  }

  async function saveBudget(e: Event) {
    e.preventDefault();
    if (!budget) return;
    try {
      const limit = readNumber(monthly.value, "Monthly budget", { min: 0 })!;
      const perAnswer = readNumber(cap.value, "Per-answer cap", { optional: true, min: 0 });
      const stored = await budgetSet(limit, perAnswer);
      edited.delete(monthly);
      edited.delete(cap);
      fillBudget(stored);
      toast("Budget saved.", { code: "budget_saved" });
    } catch (err) {
      showError(err);
    }
  }

  async function preview(e: Event) {
    e.preventDefault();
    const question = payloadQuestion.value.trim();
    if (!question) return;
    try {
      payloadOut.replaceChildren(...payloadPreview(await chatPreviewPayload(question, null, null)));
    } catch (err) {
      showError(err);
    }
  }

  root.addEventListener("input", (e) => e.target && edited.add(e.target));
  // The measurement after a download ends in the background: show its figures (or why it failed).
  listen(MODEL_SPEED_EVENT, () => { if (!root.hidden) void loadModels(); })
    .catch((err) => console.warn(`${MODEL_SPEED_EVENT} unavailable`, err));

  // A calibration moves on item by item (seconds apart, faster while reading texts): redraw at most
  // a few times a second, and say once how it ended.
  const refreshModels = debounce(() => { if (!root.hidden) void loadModels(); }, 250);
  listen<CalibrationEvent>(MODEL_CALIBRATION_EVENT, (event) => {
    refreshModels();
    const { model_id, outcome } = event.payload;
    const name = lastModels.find((m) => m.id === model_id)?.name ?? model_id;
    if (outcome === "calibrated") toast(`The router is calibrated for ${name}.`, { code: "calibrated" });
    else if (outcome === "cancelled") toast(`Calibration of ${name} stopped; its answers are kept for the next run.`, { code: "cancelled" });
    else if (outcome === "failed") toast(`Calibrating the router for ${name} failed; see Settings → Local models.`, { code: "calibration_failed", error: true });
  }).catch((err) => console.warn(`${MODEL_CALIBRATION_EVENT} unavailable`, err));

  async function show() {
    saved.hidden = true;
    apiKey.value = "";
    edited.clear();
    const load = ++settingsLoads;
    apiToken.hidden = true;
    apiToken.value = "";
    showToken.hidden = false;
    const [s, b, k] = await Promise.allSettled([settingsGet(), budgetGet(), keyStatus(), loadModels(), refreshApiStatus()]);
    // A later visit or a save has filled the settings since this load began: these are older.
    if (s.status === "fulfilled") {
      if (load === settingsLoads) fillSettings(s.value);
    } else showError(s.reason);
    if (b.status === "fulfilled") fillBudget(b.value);
    else showError(b.reason);
    if (k.status === "fulfilled") keyStatusEl.textContent = keyStatusText(k.value);
    else showError(k.reason);
  }

  return { root, show };
}

