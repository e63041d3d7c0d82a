// Rendering pieces shared by several views.
import type { CatalogModel, PayloadPreview } from "./api";
import { h, progressBar } from "./dom";
import { activeDownload, cancelDownload, downloadModel, isQueued, onDownload, type DownloadState } from "./downloads";
import type { BadgeModel } from "./lib/badge";
import { formatBytes, formatMoney } from "./lib/format";

export function renderBadge(model: BadgeModel): HTMLElement {
  const parts: (Node | string)[] = [];
  if (model.badge === "local") {
    parts.push("Local");
    if (model.confidence) parts.push(" · ", h("span", { "data-testid": "confidence" }, model.confidence));
  } else if (model.badge === "escalated") {
    parts.push(`Escalated to ${model.model}`);
    if (model.cost) parts.push(" · ", h("span", { "data-testid": "badge-cost" }, model.cost));
  } else {
    // The badge model's label: plain "Stayed local", or naming the remote model that failed.
    parts.push(model.label);
  }
  return h("span", { class: `badge badge-${model.badge}`, "data-testid": "badge", "data-badge": model.badge, title: model.label }, ...parts);
}

export function renderReason(model: BadgeModel): HTMLElement {
  return h("p", { class: "badge-reason", "data-testid": "badge-reason" }, model.reason);
}

export function emptyState(text: string): HTMLElement {
  return h("p", { class: "empty" }, text);
}

/** Download button, or progress and cancel while this model downloads. Updates in place so focus
 *  stays on Cancel while progress ticks. `testids` is off for the first-run copy of the control. */
export function downloadControls(model: CatalogModel, onInstalled: () => void, testids = true): HTMLElement {
  const id = (testid: string) => (testids ? testid : null);
  const button = h("button", {
    type: "button", "data-testid": id("model-download"),
    onclick: async () => { if (await downloadModel(model.id, model.name)) onInstalled(); },
  });
  const bar = progressBar(null, { "data-testid": id("model-progress"), "aria-label": `Downloading ${model.name}` });
  const label = h("span", { class: "muted small progress-label" });
  const progress = h("div", { class: "download-progress" }, bar, label,
    h("button", { type: "button", "data-testid": id("model-cancel"), onclick: cancelDownload }, "Cancel download"));
  const box = h("div", { class: "download" }, button, progress);
  const idle = `Download ${model.name} (${formatBytes(model.download_bytes)})`;
  const update = (state: DownloadState | null) => {
    const mine = state?.modelId === model.id;
    const queued = isQueued(model.id);
    button.hidden = mine;
    // Another download running does not disable it: the click queues this one.
    button.disabled = queued;
    button.textContent = queued ? `${model.name}: queued, starts after the current download` : idle;
    progress.hidden = !mine;
    if (!mine) return;
    if (state.progress.fraction === null) bar.removeAttribute("value");
    else bar.value = state.progress.fraction;
    label.textContent = state.progress.label;
  };
  update(activeDownload());
  const unsubscribe = onDownload((state) => (box.isConnected ? update(state) : unsubscribe()));
  return box;
}

/** Exactly what an escalation would send: the model, its worst-case price, every message. */
export function payloadPreview(p: PayloadPreview): HTMLElement[] {
  if (p.model === null) return [h("p", { class: "note" }, "No remote model configured")];
  if (p.only_private) {
    return [h("p", { class: "note private-note", "data-testid": "payload-only-private" },
      "Nothing would be sent: every passage for this question is in a private document, which never leaves this device.")];
  }
  const cost = p.worst_case_cost === null ? "unknown" : formatMoney(p.worst_case_cost, p.currency);
  return [
    h("p", {}, `Model: ${p.model} · worst-case cost ${cost}`),
    ...(p.withheld ? [h("p", { class: "note private-note", "data-testid": "payload-withheld" }, `Kept on this device: ${p.withheld}.`)] : []),
    ...(p.masked ? [h("p", { class: "note private-note", "data-testid": "payload-masked" }, `Masked before sending: ${p.masked}; the answer shows them again.`)] : []),
    ...p.messages.map((m) => h("div", { class: "message" }, h("h3", {}, m.role), h("pre", {}, m.content))),
  ];
}
