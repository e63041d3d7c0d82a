// One model download at a time (the backend cancels "the" download), shown by both the
// settings list and the first-run panel.
import { Channel } from "@tauri-apps/api/core";
import { modelsCancelDownload, modelsDownload, type PullProgress } from "./api";
import { pullProgressView, type ProgressView } from "./lib/progress";
import { watchStatus } from "./status";
import { errorCode, showError, toast } from "./toast";

export interface DownloadState {
  modelId: string;
  progress: ProgressView;
}

type Listener = (state: DownloadState | null) => void;

const listeners = new Set<Listener>();
let active: DownloadState | null = null;

const emit = () => listeners.forEach((l) => l(active));

export const activeDownload = () => active;

export function onDownload(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Resolves true when the model is installed. */
export async function downloadModel(modelId: string, name: string): Promise<boolean> {
  if (active) return false;
  active = { modelId, progress: { fraction: null, label: "Starting…" } };
  emit();
  const channel = new Channel<PullProgress>();
  channel.onmessage = (p) => {
    if (active?.modelId !== modelId) return;
    active = { modelId, progress: pullProgressView(p) };
    emit();
  };
  try {
    await modelsDownload(modelId, channel);
    toast(`${name} is installed.`, { code: "downloaded" });
    return true;
  } catch (err) {
    if (errorCode(err) === "cancelled") toast(`Download of ${name} cancelled.`, { code: "cancelled" });
    else showError(err);
    return false;
  } finally {
    active = null;
    emit();
    watchStatus();
  }
}

export function cancelDownload() {
  modelsCancelDownload().catch(showError);
}
