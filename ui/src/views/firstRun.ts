// The guided start: shown while the app has no documents and questions yet, or a model is missing.
import { modelsList, type AppStatus, type CatalogModel } from "../api";
import { downloadControls } from "../components";
import { h } from "../dom";
import { onStatus } from "../status";
import { showError } from "../toast";

export function createFirstRun(actions: { addDocuments(): void; askQuestion(): void }): HTMLElement {
  let dismissed = false;
  let models: CatalogModel[] = [];

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

  // The models the app needs are the active chat model and embedder.
  async function loadModels() {
    try {
      models = (await modelsList()).filter((m) => m.active);
    } catch (err) {
      showError(err);
    }
  }

  function render(status: AppStatus) {
    const modelsMissing = status.chat_model.state === "missing" || status.embedder.state === "missing";
    panel.hidden = dismissed || !(status.first_run || modelsMissing);
    if (panel.hidden) return;
    const missing = models.filter((m) => !m.installed);
    step(modelStep, !modelsMissing, "1. Download the local models",
      modelsMissing
        ? h("div", { class: "stack" },
            h("p", { class: "muted" }, "Answers are written on this computer by a small model. It is downloaded once."),
            ...missing.map((m) => downloadControls(m, () => void loadModels(), false)))
        : h("p", { class: "muted" }, "Installed."));
    step(documentStep, status.documents > 0, "2. Add a document",
      h("button", { type: "button", onclick: actions.addDocuments }, status.documents > 0 ? "Manage documents" : "Add documents…"));
    step(questionStep, status.questions > 0, "3. Ask a question",
      h("button", { type: "button", onclick: actions.askQuestion }, "Go to chat"));
  }

  onStatus(async (status) => {
    const needsModels = status.chat_model.state === "missing" || status.embedder.state === "missing";
    if (needsModels && !dismissed) await loadModels();
    render(status);
  });

  return panel;
}
