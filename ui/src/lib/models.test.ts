import { describe, expect, it } from "vitest";
import type { CatalogModel } from "../api";
import { calibrating, downloadText, formatRate, hasLearned, memoryText, recommendationText, routerText, speedText, testedText } from "./models";

const model: CatalogModel = {
  id: "qwen2.5-coder-0.5b-instruct", name: "Qwen2.5 Coder 0.5B Instruct", kind: "chat", approx_size_mb: 491, quantization: "Q4_K_M",
  license: "apache-2.0", installed: true, active: false, tested_here: true, download_bytes: 491_400_064, memory_needed_mb: 700.2,
  memory_exact: true, speed: { state: "not_measured" }, router: { calibration: { state: "not_calibrated", answered: 0, total: 300 }, run: null, learning: null },
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
    expect(routerText({ calibration: notCalibrated, run: null, learning: null })).toBe("not calibrated: escalates more than needed");
    expect(routerText({ calibration: { ...notCalibrated, answered: 41 }, run: null, learning: null }))
      .toBe("not calibrated: escalates more than needed; 41/300 answered, goes on from there");
    const bundled = { state: "calibrated" as const, origin: "bundled" as const, rows: 300, local_accuracy: 0.633 };
    expect(routerText({ calibration: bundled, run: null, learning: null })).toBe("calibrated (shipped): right on 63% of 300");
    expect(routerText({ calibration: { ...bundled, origin: "fitted_here" }, run: null, learning: null })).toBe("calibrated on this machine: right on 63% of 300");
    expect(routerText({ calibration: notCalibrated, run: { state: "queued" }, learning: null })).toBe("calibration starts after the speed measurement");
    expect(routerText({ calibration: notCalibrated, run: { state: "indexing", done: 0, total: 0 }, learning: null })).toBe("calibrating: loading…");
    expect(routerText({ calibration: notCalibrated, run: { state: "indexing", done: 12, total: 290 }, learning: null })).toBe("calibrating: reading texts 12/290…");
    const answering = { state: "answering" as const, done: 7, total: 300, correct: 5, paused: false };
    expect(routerText({ calibration: bundled, run: answering, learning: null })).toBe("calibrating: 7/300 answered, 5 right…");
    expect(routerText({ calibration: bundled, run: { ...answering, paused: true }, learning: null })).toBe("calibration paused while you ask (7/300)");
    expect(routerText({ calibration: notCalibrated, run: { state: "failed", message: "disk full", code: "io" }, learning: null })).toBe("calibration failed: disk full");
    expect(calibrating({ calibration: bundled, run: answering, learning: null })).toBe(true);
    expect(calibrating({ calibration: bundled, run: { state: "failed", message: "x", code: "io" }, learning: null })).toBe(false);
    expect(calibrating({ calibration: bundled, run: null, learning: null })).toBe(false);
  });

  it("says what use taught the router and offers to forget it only then", () => {
    const bundled = { state: "calibrated" as const, origin: "bundled" as const, rows: 300, local_accuracy: 0.633 };
    const none = { judged: 0, correct: 0, local_accuracy: 0.633 };
    expect(routerText({ calibration: bundled, run: null, learning: none })).toBe("calibrated (shipped): right on 63% of 300");
    expect(hasLearned({ calibration: bundled, run: null, learning: none })).toBe(false);
    expect(hasLearned({ calibration: bundled, run: null, learning: null })).toBe(false);
    const one = { calibration: bundled, run: null, learning: { judged: 1, correct: 1, local_accuracy: 0.64 } };
    expect(routerText(one)).toBe("calibrated (shipped): right on 63% of 300; learned from 1 judged answer (1 right), now expects 64%");
    expect(hasLearned(one)).toBe(true);
    const many = { calibration: { state: "not_calibrated" as const, answered: 0, total: 300 }, run: null, learning: { judged: 12, correct: 3, local_accuracy: 0.41 } };
    expect(routerText(many)).toBe("not calibrated: escalates more than needed; learned from 12 judged answers (3 right), now expects 41%");
  });
});
