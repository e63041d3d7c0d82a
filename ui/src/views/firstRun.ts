// The guided start: shown while the app has no documents and questions yet, or a model is missing.
import { modelsActivate, modelsList, modelsRecommend, type AppStatus, type CatalogModel, type Recommendation } from "../api";
import { downloadControls } from "../components";
import { h } from "../dom";
import { recommendationText } from "../lib/models";
import { onStatus, watchStatus } from "../status";
import { showError, toast } from "../toast";

export function createFirstRun(actions: { addDocuments(): void; askQuestion(): void }): HTMLElement {
  let dismissed = false;
  let catalog: CatalogModel[] = [];
  let recommendation: Recommendation | null = null;
  let last: AppStatus | null = null;

  const modelStep = h("li", {});
  const documentStep = h("li", {});
  const questionStep = h("li", {});
  const panel = h("section", { class: "first-run", "data-testid": "first-run", "aria-labelledby": "first-run-title", hidden: true },
    h("div", { class: "first-run-header" },
      h("h2", { id: "first-run-title" }, "Get started"),
      h("button", {
        type: "button", class: "link", "data-testid": "first-run-dismiss",
        onclick: () => { dismissed = true; panel.hidden = true; },
      }, "Dismiss")),
    h("ol", { class: "steps" }, modelStep, documentStep, questionStep));

  const step = (el: HTMLElement, done: boolean, title: string, ...body: (Node | null)[]) => {
    el.className = done ? "step done" : "step";
    el.replaceChildren(h("h3", {}, done ? `✓ ${title}` : title), ...body.filter((n): n is Node => n !== null));
  };

  // The models the app needs are the active chat model and embedder; the recommendation (from
  // this machine's memory and cores) may name another chat model.
  async function loadModels() {
    try {
      catalog = await modelsList();
    } catch (err) {
      showError(err);
    }
    if (recommendation === null) {
      // Only advice: without it the guided start works as before.
      recommendation = await modelsRecommend().catch((err) => {
        console.warn("no model recommendation", err);
        return null;
      });
    }
  }

  async function use(m: CatalogModel) {
    try {
      await modelsActivate(m.id);
      toast(`Loading ${m.name}…`, { code: "activated" });
      await loadModels();
      if (last) render(last);
      watchStatus();
    } catch (err) {
      showError(err);
    }
  }

  /** The recommendation, and a way to switch to it when it is not the chosen chat model. */
  function recommended(): HTMLElement | null {
    if (!recommendation) return null;
    const m = catalog.find((c) => c.id === recommendation!.model_id);
    const chosen = catalog.find((c) => c.kind === "chat" && c.active);
    const offer = !m || m.active ? null
      : m.installed
        ? h("button", { type: "button", "data-testid": "first-run-use-recommended", onclick: () => void use(m) }, `Use ${m.name}`)
        : downloadControls(m, () => void use(m), false);
    return h("div", { class: "stack", "data-testid": "first-run-recommendation", "data-model-id": recommendation.model_id },
      h("p", {}, recommendationText(recommendation, catalog), m?.active ? " — already chosen." : chosen ? ` — now using ${chosen.name}.` : ""),
      offer);
  }

  function render(status: AppStatus) {
    last = status;
    const modelsMissing = status.chat_model.state === "missing" || status.embedder.state === "missing";
    panel.hidden = dismissed || !(status.first_run || modelsMissing);
    if (panel.hidden) return;
    const missing = catalog.filter((m) => m.active && !m.installed);
    step(modelStep, !modelsMissing, "1. Download the local models",
      modelsMissing
        ? h("div", { class: "stack" },
            h("p", { class: "muted" }, "Answers are written on this computer by a small model. It is downloaded once."),
            ...missing.map((m) => downloadControls(m, () => void loadModels(), false)),
            recommended())
        : h("div", { class: "stack" }, h("p", { class: "muted" }, "Installed."), recommended()));
    step(documentStep, status.documents > 0, "2. Add a document",
      h("button", { type: "button", onclick: actions.addDocuments }, status.documents > 0 ? "Manage documents" : "Add documents…"));
    step(questionStep, status.questions > 0, "3. Ask a question",
      h("button", { type: "button", onclick: actions.askQuestion }, "Go to chat"));
  }

  onStatus(async (status) => {
    const needsModels = status.chat_model.state === "missing" || status.embedder.state === "missing";
    if (!dismissed && (needsModels || (status.first_run && recommendation === null))) await loadModels();
    render(status);
  });

  return panel;
}
