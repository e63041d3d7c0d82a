import type { SpendReport } from "../api";

export interface ChartBar {
  day: number;
  cost: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ChartGeometry {
  width: number;
  height: number;
  plot: { left: number; top: number; right: number; bottom: number };
  days: number;
  bars: ChartBar[];
  yMax: number;
  pace: number; // the monthly limit spread evenly over the days
  paceY: number | null; // null when there is no limit to pace against
}

export function daysInMonth(month: string): number {
  const [year, mon] = month.split("-").map(Number);
  return new Date(Date.UTC(year, mon, 0)).getUTCDate();
}

const MARGIN = { left: 64, top: 12, right: 12, bottom: 28 };
const MIN_VISIBLE_BAR = 2;

/** Every day of the month gets a slot; bars are scaled so the taller of the busiest day and the pace line fills the plot. */
export function spendChartGeometry(report: Pick<SpendReport, "month" | "limit" | "per_day">, width: number, height: number): ChartGeometry {
  const days = daysInMonth(report.month);
  const plot = { left: MARGIN.left, top: MARGIN.top, right: width - MARGIN.right, bottom: height - MARGIN.bottom };
  const plotHeight = plot.bottom - plot.top;
  const slot = (plot.right - plot.left) / days;
  const costByDay = new Map(report.per_day.map((d) => [Number(d.day.slice(8, 10)), d.cost]));
  const pace = report.limit > 0 ? report.limit / days : 0;
  const yMax = Math.max(pace, ...costByDay.values(), 0);
  const scale = (v: number) => (yMax > 0 ? (v / yMax) * plotHeight : 0);
  const bars = Array.from({ length: days }, (_, i) => {
    const cost = costByDay.get(i + 1) ?? 0;
    // A day with any spending stays visible next to a large budget's pace line.
    const h = cost > 0 ? Math.max(scale(cost), MIN_VISIBLE_BAR) : 0;
    return { day: i + 1, cost, x: plot.left + i * slot + slot * 0.15, y: plot.bottom - h, width: slot * 0.7, height: h };
  });
  return { width, height, plot, days, bars, yMax, pace, paceY: pace > 0 ? plot.bottom - scale(pace) : null };
}
