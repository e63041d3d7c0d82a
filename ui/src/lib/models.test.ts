import { describe, expect, it } from "vitest";
import type { CatalogModel } from "../api";
import { calibrating, downloadText, formatRate, memoryText, recommendationText, routerText, speedText, testedText } from "./models";

const model: CatalogModel = {
  id: "qwen2.5-coder-0.5b-instruct", name: "Qwen2.5 Coder 0.5B Instruct", kind: "chat", approx_size_mb: 491, quantization: "Q4_K_M",
  license: "apache-2.0", installed: true, active: false, tested_here: true, download_bytes: 491_400_064, memory_needed_mb: 700.2,
  memory_exact: true, speed: { state: "not_measured" }, router: { calibration: { state: "not_calibrated", answered: 0, total: 300 }, run: null },
};

describe("the model table's cells", () => {
  it("shows the speed in each state", () => {
    expect(speedText(null)).toBe("—");
    expect(speedText({ state: "not_measured" })).toBe("not measured yet");
    expect(speedText({ state: "measuring" })).toBe("measuring speed…");
    expect(speedText({ state: "failed", message: "model file is damaged", code: "model_damaged" })).toBe("could not measure: model file is damaged");
    const measured = {
      state: "measured" as const, model_id: model.id, file_sha256: "ab", file_bytes: 1, measured_at_ms: 1, device: "cpu", cpu_kernels: "avx2",
      threads: 2, prompt_tokens: 128, decode_tokens: 32, load_secs: 1.2, prefill_tokens_per_sec: 240.6, decode_tokens_per_sec: 31.2,
      memory_needed_mb: 700, context_tokens: 1024, rss_growth_mb: 650,
    };
    expect(speedText(measured)).toBe("prefill 241 tok/s · decode 31 tok/s");
    expect(formatRate(4.26)).toBe("4.3");
  });
  it("shows download size, memory (a lower bound before the download) and testing", () => {
    expect(downloadText(model)).toBe("469 MB");
    expect(memoryText(model)).toBe("700 MB");
    expect(memoryText({ ...model, memory_exact: false })).toBe("≥ 700 MB");
    expect(memoryText({ ...model, memory_needed_mb: null })).toBe("—");
    expect(testedText(model)).toBe("Yes");
    expect(testedText({ ...model, tested_here: false })).toBe("Not yet");
  });
  it("names the recommended model and says why", () => {
    const r = { model_id: model.id, machine: { ram_bytes: 8 * 2 ** 30, cores: 4 }, reason: "recommended for 8 GiB RAM, 4 cores" };
    expect(recommendationText(r, [model])).toBe("Recommended: Qwen2.5 Coder 0.5B Instruct (recommended for 8 GiB RAM, 4 cores)");
    expect(recommendationText({ ...r, model_id: "unknown" }, [model])).toBe("Recommended: unknown (recommended for 8 GiB RAM, 4 cores)");
  });
  it("shows where the router's calibration stands, a run in progress first", () => {
    const notCalibrated = { state: "not_calibrated" as const, answered: 0, total: 300 };
    expect(routerText(null)).toBe("—");
    expect(routerText({ calibration: notCalibrated, run: null })).toBe("not calibrated: escalates more than needed");
    expect(routerText({ calibration: { ...notCalibrated, answered: 41 }, run: null }))
      .toBe("not calibrated: escalates more than needed; 41/300 answered, goes on from there");
    const bundled = { state: "calibrated" as const, origin: "bundled" as const, rows: 300, local_accuracy: 0.633 };
    expect(routerText({ calibration: bundled, run: null })).toBe("calibrated (shipped): right on 63% of 300");
    expect(routerText({ calibration: { ...bundled, origin: "fitted_here" }, run: null })).toBe("calibrated on this machine: right on 63% of 300");
    expect(routerText({ calibration: notCalibrated, run: { state: "queued" } })).toBe("calibration starts after the speed measurement");
    expect(routerText({ calibration: notCalibrated, run: { state: "indexing", done: 0, total: 0 } })).toBe("calibrating: loading…");
    expect(routerText({ calibration: notCalibrated, run: { state: "indexing", done: 12, total: 290 } })).toBe("calibrating: reading texts 12/290…");
    const answering = { state: "answering" as const, done: 7, total: 300, correct: 5, paused: false };
    expect(routerText({ calibration: bundled, run: answering })).toBe("calibrating: 7/300 answered, 5 right…");
    expect(routerText({ calibration: bundled, run: { ...answering, paused: true } })).toBe("calibration paused while you ask (7/300)");
    expect(routerText({ calibration: notCalibrated, run: { state: "failed", message: "disk full", code: "io" } })).toBe("calibration failed: disk full");
    expect(calibrating({ calibration: bundled, run: answering })).toBe(true);
    expect(calibrating({ calibration: bundled, run: { state: "failed", message: "x", code: "io" } })).toBe(false);
    expect(calibrating({ calibration: bundled, run: null })).toBe(false);
  });
});
