import { historyList, type AnswerView } from "../api";
import { emptyState, renderBadge, renderReason } from "../components";
import { field, h } from "../dom";
import { badgeOfView } from "../lib/badge";
import { debounce } from "../lib/debounce";
import { exportButtons } from "../lib/export";
import { formatDateTime, formatMoney } from "../lib/format";
import { showError } from "../toast";
import type { View } from "./view";

export function createHistoryView(): View {
  const expanded = new Set<number>();
  let request = 0; // only the latest search may render

  const escalatedOnly = h("input", { type: "checkbox", "data-testid": "history-filter-escalated", onchange: () => void load() });
  const search = h("input", { type: "search", "data-testid": "history-search", placeholder: "Question or answer text", autocomplete: "off" });
  const count = h("span", { "data-testid": "history-count" });
  const escalated = h("span", {});
  const totalCost = h("span", { "data-testid": "history-total-cost" });
  const list = h("ul", { class: "history" });
  const debouncedLoad = debounce(() => void load(), 250);
  search.addEventListener("input", debouncedLoad);

  const root = h("section", { class: "view", "data-testid": "view-history", "aria-labelledby": "history-title", hidden: true },
    h("header", { class: "view-header" },
      h("h1", { id: "history-title" }, "History"),
      h("div", { class: "toolbar" },
        field("Search", search),
        h("label", { class: "inline" }, escalatedOnly, "Escalated only"),
        exportButtons("history-export", () => ({ kind: "history", escalated_only: escalatedOnly.checked, search: search.value.trim() })))),
    h("p", { class: "totals" }, count, " · ", escalated, " · ", totalCost),
    list);

  function renderRow(a: AnswerView): HTMLElement {
    const badge = badgeOfView(a);
    const open = expanded.has(a.id);
    const detailId = `history-detail-${a.id}`;
    const toggle = () => {
      if (open) expanded.delete(a.id);
      else expanded.add(a.id);
      row.replaceWith(renderRow(a));
      document.getElementById(`history-toggle-${a.id}`)?.focus();
    };
    const row = h("li", { class: "history-row", "data-testid": "history-row", "data-escalated": String(badge.badge === "escalated") },
      h("button", { type: "button", class: "history-summary", id: `history-toggle-${a.id}`, "aria-expanded": String(open), "aria-controls": detailId, onclick: toggle },
        h("span", { class: "muted small" }, formatDateTime(a.asked_at_ms)),
        h("span", { class: "history-question" },
          a.api_client !== null
            ? h("span", { class: "tag", "data-testid": "history-api-client", title: "Asked by another program through the local API" }, `API · ${a.api_client}`)
            : null,
          a.question),
        h("span", { class: "history-answer" }, a.remote_answer ?? a.local_answer),
        renderBadge(badge),
        h("span", { class: "num" }, formatMoney(a.cost, a.currency))),
      open ? h("div", { class: "history-detail", id: detailId },
        renderReason(badge),
        a.remote_error ? h("p", { class: "note warning" }, `Remote model failed: ${a.remote_error} — the local answer stands`) : null,
        h("div", { class: a.remote_answer !== null ? "compare" : "" },
          h("div", { class: "compare-col" }, h("h3", {}, `Local · ${a.local_model}`), h("div", { class: "answer-text" }, a.local_answer)),
          a.remote_answer !== null
            ? h("div", { class: "compare-col" }, h("h3", {}, a.remote_model ?? "Remote"), h("div", { class: "answer-text" }, a.remote_answer))
            : null)) : null);
    return row;
  }

  async function load() {
    debouncedLoad.cancel();
    const mine = ++request;
    try {
      const page = await historyList(escalatedOnly.checked, search.value.trim());
      if (mine !== request) return;
      count.textContent = `${page.count} ${page.count === 1 ? "answer" : "answers"}`;
      escalated.textContent = `${page.escalated} escalated`;
      totalCost.textContent = `Total cost ${formatMoney(page.total_cost, page.currency)}`;
      list.replaceChildren(...(page.answers.length ? page.answers.map(renderRow) : [emptyState("No answers match.")]));
    } catch (err) {
      if (mine === request) showError(err);
    }
  }

  return { root, show: load };
}
