import { networkLog, type NetworkRequest } from "../api";
import { emptyState } from "../components";
import { h } from "../dom";
import { formatBytes, formatDateTime, formatMoney } from "../lib/format";
import { showError } from "../toast";
import type { View } from "./view";

const PURPOSE: Record<NetworkRequest["purpose"], string> = { escalation: "Escalation", model_download: "Model download" };

/** The outcome of one request in a few words: its status, or why it failed. */
export function outcomeOf(r: NetworkRequest): string {
  if (r.error) return `Failed: ${r.error}`;
  return r.status === null ? "Done" : `HTTP ${r.status}`;
}

/** Every request that left the laptop: when, to which host, why, how many bytes, what it cost. */
export function createNetworkView(): View {
  const summary = h("p", { class: "totals", "data-testid": "network-summary" });
  const table = h("tbody");
  const root = h("section", { class: "view", "data-testid": "view-network", "aria-labelledby": "network-title", hidden: true },
    h("header", { class: "view-header" }, h("h1", { id: "network-title" }, "Network log")),
    h("p", { class: "muted small" },
      "Every request AutoMix made over the network. Answers, documents and settings stay on this device unless a row here says otherwise."),
    summary,
    h("table", { class: "network" },
      h("thead", {}, h("tr", {}, ...["Time", "Purpose", "Host", "Request", "Sent", "Received", "Outcome", "Cost"].map((t) => h("th", { scope: "col" }, t)))),
      table));

  function row(r: NetworkRequest): HTMLElement {
    return h("tr", { "data-testid": "network-row", "data-purpose": r.purpose, "data-bytes-sent": r.bytes_sent ?? "", "data-status": r.status ?? "" },
      h("td", {}, formatDateTime(r.at_ms)),
      h("td", {}, PURPOSE[r.purpose]),
      h("td", { class: "path" }, r.host),
      h("td", { class: "path" }, r.what),
      h("td", { class: "num", title: r.bytes_sent === null ? "Sent by a helper program (pip); not measured" : `${r.bytes_sent} bytes` },
        r.bytes_sent === null ? "—" : formatBytes(r.bytes_sent)),
      h("td", { class: "num", title: `${r.bytes_received} bytes` }, formatBytes(r.bytes_received)),
      h("td", { class: r.error ? "warning" : "" }, outcomeOf(r)),
      h("td", { class: "num" }, r.currency && r.cost > 0 ? formatMoney(r.cost, r.currency) : "—"));
  }

  async function load() {
    try {
      const requests = await networkLog();
      const sent = requests.reduce((total, r) => total + (r.bytes_sent ?? 0), 0);
      summary.textContent = requests.length
        ? `${requests.length} ${requests.length === 1 ? "request" : "requests"} · ${formatBytes(sent)} sent`
        : "Nothing has left this device.";
      table.replaceChildren(...(requests.length
        ? [...requests].reverse().map(row)
        : [h("tr", {}, h("td", { colspan: 8 }, emptyState("No network requests yet: every answer so far came from this device.")))]));
    } catch (err) {
      showError(err);
    }
  }

  return { root, show: load };
}
