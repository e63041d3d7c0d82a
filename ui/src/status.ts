// The app status is shared by the header pill, the first-run panel and the views; it is polled
// every second only while a model is loading.
import { appStatus, type AppStatus } from "./api";
import { isLoading } from "./lib/progress";
import { showError } from "./toast";

type Listener = (status: AppStatus) => void;

const listeners = new Set<Listener>();
let current: AppStatus | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
// Polls owed regardless of state: right after an activation the backend may not report "loading" yet.
let forcedPolls = 0;

export function onStatus(listener: Listener) {
  listeners.add(listener);
  if (current) listener(current);
}

export async function refreshStatus(): Promise<void> {
  clearTimeout(timer);
  try {
    current = await appStatus();
    listeners.forEach((l) => l(current!));
  } catch (err) {
    showError(err);
  }
  if (forcedPolls > 0 || (current && isLoading(current))) {
    forcedPolls = Math.max(0, forcedPolls - 1);
    timer = setTimeout(refreshStatus, 1000);
  }
}

/** After modelsActivate or a download: follow the load until it settles. */
export function watchStatus() {
  forcedPolls = 3;
  void refreshStatus();
}
