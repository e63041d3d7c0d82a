import { describe, expect, it } from "vitest";
import type { ModelLoad } from "../api";
import { indexProgressView, modelStatusView, pullProgressView } from "./progress";

const ready: ModelLoad = { state: "ready", model_id: "m", load_ms: 5 };

describe("progress views", () => {
  it("turns downloads into a fraction", () => {
    expect(pullProgressView({ kind: "download", file: "model.gguf", done: 512 * 1024, total: 1024 * 1024 })).toEqual({
      fraction: 0.5, label: "Downloading model.gguf — 512 KB of 1 MB",
    });
    expect(pullProgressView({ kind: "download", file: "f", done: 5, total: 0 }).fraction).toBeNull();
    expect(pullProgressView({ kind: "source_failed", source: "hub", reason: "timeout" }).label).toContain("hub failed: timeout");
  });
  it("describes indexing", () => {
    expect(indexProgressView({ kind: "progress", files_done: 1, files_total: 4, chunks_indexed: 12, current_file: "/a.md", pages: null })).toEqual({
      fraction: 0.25, label: "1 of 4 files · 12 chunks — /a.md",
    });
  });
  it("moves page by page through a long scan", () => {
    const scan = { kind: "progress", files_done: 1, files_total: 2, chunks_indexed: 3, current_file: "/scan.pdf", pages: { done: 5, total: 20, ocr: 4 } } as const;
    expect(indexProgressView(scan)).toEqual({
      fraction: (1 + 5 / 20) / 2, label: "1 of 2 files · 3 chunks — /scan.pdf · page 5 of 20, 4 read by OCR",
    });
    expect(indexProgressView({ ...scan, pages: { done: 2, total: 9, ocr: 0 } }).label).toBe("1 of 2 files · 3 chunks — /scan.pdf · page 2 of 9");
    // Between files the last file's pages no longer count.
    expect(indexProgressView({ ...scan, files_done: 2, current_file: null, pages: null }).fraction).toBe(1);
  });
  it("reports the worst model state", () => {
    expect(modelStatusView({ chat_model: ready, embedder: ready }).state).toBe("ready");
    expect(modelStatusView({ chat_model: { state: "loading", model_id: "m" }, embedder: ready })).toEqual({ state: "loading", label: "Loading…" });
    expect(modelStatusView({ chat_model: { state: "missing", message: "" }, embedder: { state: "loading", model_id: "e" } }).state).toBe("missing");
    expect(modelStatusView({ chat_model: ready, embedder: { state: "failed", message: "bad file", code: "io" } })).toEqual({ state: "failed", label: "Failed: bad file" });
  });
});
