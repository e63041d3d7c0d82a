// @vitest-environment happy-dom
// A slow load of the settings never refills the form with values older than a save made meanwhile
// (the long-day E2E once saw "never escalate" flip back this way).
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { expect, it, vi } from "vitest";
import type { Settings } from "../api";
import { createSettingsView } from "./settings";

const settings = (neverEscalate: boolean): Settings => ({
  local_model: "m", context_tokens: 2048, never_escalate: neverEscalate, ask_before_sending: "always", ask_above: 0.01, redaction: { personal_data: false, words: [] }, quality_cost: 0.5, device: "auto",
  remote: { endpoint: "", model: "", input_per_million: null, output_per_million: null, accuracy: 0.9, max_tokens: 512 },
  local_api: { enabled: false, port: 11435, allow_network: false },
  ocr_languages: "",
} as Settings);

it("keeps what was saved when an older load of the settings arrives after the save", async () => {
  mockWindows("main");
  let stored = settings(true);
  const slowLoads: Array<() => void> = [];
  mockIPC((cmd, args: any) => {
    switch (cmd) {
      case "settings_get": {
        const snapshot = stored;
        // The first load is slow; it read the settings as they were before the save below.
        if (slowLoads.length === 0) return new Promise((resolve) => slowLoads.push(() => resolve(snapshot)));
        return snapshot;
      }
      case "settings_set":
        stored = args.settings;
        return stored;
      case "budget_get":
        return { monthly_limit: 5, per_answer_cap: null, currency: "USD" };
      case "local_api_status":
        return { running: false, base_url: null, listening_on: null, network: false, error: null };
      case "key_status":
        return { state: "not_set", hint: null };
      case "models_list":
        return [];
    }
    return null;
  }, { shouldMockEvents: true });
  const view = createSettingsView();
  document.body.append(view.root);
  const box = view.root.querySelector<HTMLInputElement>('[data-testid="settings-never-escalate"]')!;

  // A first visit fills the form; a second visit starts a load that is slow to answer.
  slowLoads.push(() => {});
  await view.show();
  expect(box.checked).toBe(true);
  slowLoads.length = 0;
  const slowVisit = view.show();
  await vi.waitFor(() => expect(slowLoads).toHaveLength(1));

  // Meanwhile the user switches escalation back on and saves.
  box.click();
  view.root.querySelector<HTMLFormElement>("form.settings-form")!.dispatchEvent(new Event("submit", { cancelable: true }));
  await vi.waitFor(() => expect(stored.never_escalate).toBe(false));
  await vi.waitFor(() => expect(view.root.querySelector<HTMLElement>('[data-testid="settings-saved"]')!.hidden).toBe(false));

  slowLoads[0]();
  await slowVisit;
  expect(box.checked).toBe(false);
});
