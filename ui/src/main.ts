import "./styles.css";
import type { AppStatus } from "./api";
import { fill, h } from "./dom";
import { modelStatusView } from "./lib/progress";
import { onStatus, refreshStatus } from "./status";
import { toastRegion } from "./toast";
import { createChatView } from "./views/chat";
import { createDocumentsView } from "./views/documents";
import { createFirstRun } from "./views/firstRun";
import { createHistoryView } from "./views/history";
import { createNetworkView } from "./views/network";
import { createSettingsView } from "./views/settings";
import { createSpendView } from "./views/spend";
import type { AppContext, View, ViewName } from "./views/view";

const NAV: [ViewName, string][] = [
  ["chat", "Chat"],
  ["documents", "Documents"],
  ["history", "History"],
  ["spend", "Spend"],
  ["network", "Network"],
  ["settings", "Settings"],
];

const ctx: AppContext = { navigate };
const chat = createChatView();
const views: Record<ViewName, View> = {
  chat,
  documents: createDocumentsView(ctx),
  history: createHistoryView(),
  spend: createSpendView(),
  network: createNetworkView(),
  settings: createSettingsView(),
};

const navButtons = new Map(NAV.map(([name, label]) => [
  name,
  h("button", { type: "button", class: "nav-item", "data-testid": `nav-${name}`, onclick: () => void navigate(name) }, label),
]));

async function navigate(name: ViewName) {
  for (const [other, view] of Object.entries(views)) view.root.hidden = other !== name;
  for (const [other, button] of navButtons) button.setAttribute("aria-current", other === name ? "page" : "false");
  await views[name].show();
}

async function goToModels() {
  await navigate("settings");
  document.getElementById("local-models")?.scrollIntoView();
}

const pill = h("div", { class: "model-status", "data-testid": "model-status", "data-state": "loading", role: "status" });

function renderPill(status: AppStatus) {
  const view = modelStatusView(status);
  pill.dataset.state = view.state;
  fill(pill,
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", {}, `Local model: ${view.label}`),
    view.state === "missing" ? h("button", { type: "button", class: "link", onclick: () => void goToModels() }, "Download") : null);
}
pill.append(h("span", {}, "Local model: Loading…"));
onStatus(renderPill);

const firstRun = createFirstRun({
  addDocuments: () => void navigate("documents"),
  askQuestion: () => void navigate("chat").then(() => chat.focusQuestion()),
});

document.getElementById("app")!.append(
  h("header", { class: "app-header" }, h("span", { class: "brand" }, "AutoMix"), pill),
  h("nav", { class: "app-nav", "aria-label": "Sections" }, ...navButtons.values()),
  h("main", { class: "app-main" }, firstRun, ...Object.values(views).map((v) => v.root)),
  toastRegion());

void Promise.allSettled([refreshStatus(), navigate("chat")]).then(() => {
  document.body.dataset.ready = "true";
});
