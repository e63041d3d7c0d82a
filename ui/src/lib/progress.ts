import type { AppStatus, IndexEvent, ModelLoad, PullProgress } from "../api";
import { formatBytes } from "./format";

export interface ProgressView {
  fraction: number | null; // null: indeterminate
  label: string;
}

const ratio = (done: number, total: number) => (total > 0 ? Math.min(done / total, 1) : null);

export function pullProgressView(p: PullProgress): ProgressView {
  switch (p.kind) {
    case "trying":
      return { fraction: null, label: `Connecting to ${p.source}…` };
    case "source_failed":
      return { fraction: null, label: `${p.source} failed: ${p.reason}. Trying the next source…` };
    case "download":
      return { fraction: ratio(p.done, p.total), label: `Downloading ${p.file} — ${formatBytes(p.done)} of ${formatBytes(p.total)}` };
    case "verifying":
      return { fraction: null, label: `Verifying ${p.file}…` };
    case "converting":
      return { fraction: ratio(p.done, p.total), label: "Converting the model…" };
  }
}

export function indexProgressView(p: IndexEvent): ProgressView {
  const file = p.current_file ? ` — ${p.current_file}` : "";
  // A long scan moves the bar page by page, and says how many of its pages OCR has read.
  const pages = p.current_file && p.pages ? p.pages : null;
  const within = pages && pages.total > 0 ? Math.min(pages.done / pages.total, 1) : 0;
  const pageLabel = pages ? ` · page ${pages.done} of ${pages.total}${pages.ocr > 0 ? `, ${pages.ocr} read by OCR` : ""}` : "";
  return {
    fraction: p.files_total > 0 ? Math.min((p.files_done + within) / p.files_total, 1) : null,
    label: `${p.files_done} of ${p.files_total} files · ${p.chunks_indexed} chunks${file}${pageLabel}`,
  };
}

export interface ModelStatusView {
  state: ModelLoad["state"];
  label: string;
}

/** One pill for both local models: the worst state wins, since answers need both. */
export function modelStatusView(status: Pick<AppStatus, "chat_model" | "embedder">): ModelStatusView {
  const loads = [status.chat_model, status.embedder];
  const failed = loads.find((l): l is Extract<ModelLoad, { state: "failed" }> => l.state === "failed");
  if (failed) return { state: "failed", label: `Failed: ${failed.message}` };
  if (loads.some((l) => l.state === "missing")) return { state: "missing", label: "Missing" };
  if (loads.some((l) => l.state === "loading")) return { state: "loading", label: "Loading…" };
  return { state: "ready", label: "Ready" };
}

export const isLoading = (status: Pick<AppStatus, "chat_model" | "embedder">) =>
  status.chat_model.state === "loading" || status.embedder.state === "loading";
