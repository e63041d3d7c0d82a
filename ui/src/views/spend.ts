import { spendReport, type SpendReport } from "../api";
import { h, s } from "../dom";
import { formatMoney, formatPercent } from "../lib/format";
import { spendChartGeometry } from "../lib/spendChart";
import { showError } from "../toast";
import type { View } from "./view";

const WIDTH = 720;
const HEIGHT = 260;

function chart(report: SpendReport): SVGSVGElement {
  const g = spendChartGeometry(report, WIDTH, HEIGHT);
  const money = (v: number) => formatMoney(v, report.currency);
  const spendingDays = report.per_day.length;
  const svg = s("svg", {
    class: "spend-chart", "data-testid": "spend-chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": `Spending per day in ${report.month}: ${spendingDays} ${spendingDays === 1 ? "day" : "days"} with spending, ${money(report.spent)} in total`,
  });
  const { plot } = g;
  svg.append(
    s("line", { class: "axis", x1: plot.left, y1: plot.bottom, x2: plot.right, y2: plot.bottom }),
    s("text", { class: "axis-label", x: plot.left - 6, y: plot.bottom, "text-anchor": "end", "dominant-baseline": "middle" }, money(0)),
  );
  if (g.yMax > 0) {
    svg.append(s("text", { class: "axis-label", x: plot.left - 6, y: plot.top, "text-anchor": "end", "dominant-baseline": "middle" }, money(g.yMax)));
  }
  for (const bar of g.bars) {
    if (bar.height > 0) {
      svg.append(s("rect", { class: "bar", x: bar.x, y: bar.y, width: bar.width, height: bar.height, rx: 2 },
        s("title", {}, `${report.month}-${String(bar.day).padStart(2, "0")}: ${money(bar.cost)}`)));
    }
    if (bar.day === 1 || bar.day % 5 === 0 || bar.day === g.days) {
      svg.append(s("text", { class: "axis-label", x: bar.x + bar.width / 2, y: plot.bottom + 16, "text-anchor": "middle" }, String(bar.day)));
    }
  }
  if (g.paceY !== null) {
    svg.append(
      s("line", { class: "pace", x1: plot.left, y1: g.paceY, x2: plot.right, y2: g.paceY }),
      s("text", { class: "pace-label", x: plot.right, y: g.paceY - 4, "text-anchor": "end" }, `Budget pace ${money(g.pace)}/day`),
    );
  }
  return svg;
}

export function createSpendView(): View {
  const body = h("div", { class: "spend" });
  const root = h("section", { class: "view", "data-testid": "view-spend", "aria-labelledby": "spend-title", hidden: true },
    h("header", { class: "view-header" }, h("h1", { id: "spend-title" }, "Spend")), body);

  const card = (title: string, value: HTMLElement, detail?: string) =>
    h("div", { class: "card" }, h("h2", {}, title), value, detail ? h("p", { class: "muted small" }, detail) : null);

  function render(r: SpendReport) {
    const money = (v: number) => formatMoney(v, r.currency);
    body.replaceChildren(
      h("div", { class: "cards" },
        card("Remaining this month", h("p", { class: "big", "data-testid": "spend-remaining" }, money(r.remaining)),
          `Spent ${money(r.spent)} · reserved ${money(r.reserved)}`),
        card("Monthly limit", h("p", { class: "big", "data-testid": "spend-limit" }, money(r.limit)), r.month),
        card("Answers escalated", h("p", { class: "big", "data-testid": "spend-share" }, formatPercent(r.escalated_share)),
          `${r.escalated} of ${r.answers} answers this month`),
        card("Saved", h("p", { class: "big", "data-testid": "spend-saved" }, money(r.saved)),
          `Sending every answer to the remote model would have cost about ${money(r.all_remote_cost)}`)),
      h("h2", {}, "Spending per day"),
      chart(r));
  }

  async function show() {
    try {
      render(await spendReport());
    } catch (err) {
      showError(err);
    }
  }

  return { root, show };
}
