import { describe, expect, it } from "vitest";
import { daysInMonth, spendChartGeometry } from "./spendChart";

describe("spend chart geometry", () => {
  it("knows month lengths", () => {
    expect(daysInMonth("2024-02")).toBe(29);
    expect(daysInMonth("2025-02")).toBe(28);
    expect(daysInMonth("2025-12")).toBe(31);
  });

  it("scales bars to the busiest day", () => {
    const g = spendChartGeometry({ month: "2025-04", limit: 3, per_day: [{ day: "2025-04-02", cost: 0.5, escalations: 2 }, { day: "2025-04-10", cost: 1, escalations: 3 }] }, 600, 240);
    const plotHeight = g.plot.bottom - g.plot.top;
    expect(g.days).toBe(30);
    expect(g.bars).toHaveLength(30);
    expect(g.yMax).toBe(1);
    expect(g.bars[9].height).toBeCloseTo(plotHeight);
    expect(g.bars[9].y).toBeCloseTo(g.plot.top);
    expect(g.bars[1].height).toBeCloseTo(plotHeight / 2);
    expect(g.bars[0].height).toBe(0);
    expect(g.pace).toBeCloseTo(0.1);
    expect(g.paceY).toBeCloseTo(g.plot.bottom - plotHeight * 0.1);
    expect(g.bars[1].x).toBeGreaterThan(g.bars[0].x + g.bars[0].width);
    expect(g.bars[29].x + g.bars[29].width).toBeLessThanOrEqual(g.plot.right);
  });

  it("keeps the pace line on the chart when spending is below it", () => {
    const g = spendChartGeometry({ month: "2025-04", limit: 30, per_day: [{ day: "2025-04-01", cost: 0.5, escalations: 1 }] }, 600, 240);
    expect(g.yMax).toBe(1);
    expect(g.paceY).toBeCloseTo(g.plot.top);
  });

  it("keeps a tiny day visible next to a large budget", () => {
    const g = spendChartGeometry({ month: "2025-04", limit: 5, per_day: [{ day: "2025-04-02", cost: 0.000054, escalations: 1 }] }, 600, 240);
    expect(g.bars[1].height).toBe(2);
    expect(g.bars[1].y).toBe(g.plot.bottom - 2);
    expect(g.bars[0].height).toBe(0);
  });

  it("draws an empty month flat, without a pace line when there is no limit", () => {
    const g = spendChartGeometry({ month: "2025-01", limit: 0, per_day: [] }, 600, 240);
    expect(g.days).toBe(31);
    expect(g.bars.every((b) => b.height === 0 && b.y === g.plot.bottom)).toBe(true);
    expect(g.paceY).toBeNull();
  });
});
