// One model download at a time (the backend cancels "the" download), shown by both the
// settings list and the first-run panel. A download asked for while another runs waits its turn
// in a queue and starts by itself: every click counts (a first run needs the chat model and the
// embedder, and a new user clicks both).
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
/** Model ids waiting for the download in progress to end, in order. */
let waiting: string[] = [];
let queue: Promise<unknown> = Promise.resolve();

const emit = () => listeners.forEach((l) => l(active));

export const activeDownload = () => active;

/** Whether `modelId` waits for another download to end. */
export const isQueued = (modelId: string) => waiting.includes(modelId);

export function onDownload(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Resolves true when the model is installed; false when it was cancelled, failed, or is already
 *  downloading or queued. */
export function downloadModel(modelId: string, name: string): Promise<boolean> {
  if (active?.modelId === modelId || isQueued(modelId)) return Promise.resolve(false);
  waiting.push(modelId);
  emit();
  const turn = queue.then(() => download(modelId, name));
  queue = turn.catch(() => false);
  return turn;
}

async function download(modelId: string, name: string): Promise<boolean> {
  waiting = waiting.filter((id) => id !== modelId);
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
