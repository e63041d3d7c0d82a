// @vitest-environment happy-dom
// First run with the models missing: the guided start downloads them with progress and can cancel.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { expect, it, vi } from "vitest";
import type { Channel } from "@tauri-apps/api/core";
import type { PullProgress } from "./api";

let installed = false;
let finishDownload: (() => void) | null = null;
let failDownload: ((err: unknown) => void) | null = null;

it("guides a first run through the model download", async () => {
  mockWindows("main");
  mockIPC((cmd, args: any) => {
    switch (cmd) {
      case "app_status": {
        const load = installed ? { state: "ready", model_id: "m", load_ms: 1 } : { state: "missing", message: "not installed" };
        return { chat_model: load, embedder: load, first_run: true, documents: 0, questions: 0 };
      }
      case "models_list":
        return [
          { id: "m", name: "SmolLM2", kind: "chat", approx_size_mb: 270, quantization: "q8", license: "Apache-2.0", installed, active: true,
            tested_here: true, download_bytes: 270 * 1024 * 1024, memory_needed_mb: 400, memory_exact: installed, speed: { state: "not_measured" } },
          { id: "q", name: "Qwen2.5 Coder 0.5B", kind: "chat", approx_size_mb: 491, quantization: "Q4_K_M", license: "apache-2.0", installed: false, active: false,
            tested_here: true, download_bytes: 491_400_064, memory_needed_mb: 620, memory_exact: false, speed: { state: "not_measured" } },
        ];
      case "models_recommend":
        return { model_id: "q", machine: { ram_bytes: 8 * 2 ** 30, cores: 4 }, reason: "recommended for 8 GiB RAM, 4 cores" };
      case "models_download": {
        const channel = args.onProgress as Channel<PullProgress>;
        channel.onmessage({ kind: "download", file: "model.gguf", done: 50, total: 100 });
        return new Promise<void>((resolve, reject) => {
          finishDownload = () => { installed = true; resolve(); };
          failDownload = reject;
        });
      }
      case "models_cancel_download":
        failDownload!({ code: "cancelled", message: "Download cancelled" });
        return null;
      case "documents_list":
      case "chat_conversations":
        return [];
      case "settings_get":
        return { local_model: "m", context_tokens: 2048, never_escalate: false, quality_cost: 0.5, device: "auto", remote: { endpoint: "", model: "", input_per_million: null, output_per_million: null, accuracy: 0.9, max_tokens: 512 } };
    }
    throw { code: "unknown", message: `no mock for ${cmd}` };
  }, { shouldMockEvents: true });
  document.body.append(Object.assign(document.createElement("div"), { id: "app" }));
  await import("./main");
  await vi.waitFor(() => expect(document.body.dataset.ready).toBe("true"));

  const panel = document.querySelector<HTMLElement>('[data-testid="first-run"]')!;
  const status = document.querySelector<HTMLElement>('[data-testid="model-status"]')!;
  expect(status.dataset.state).toBe("missing");
  await vi.waitFor(() => expect(panel.hidden).toBe(false));

  const download = () => [...panel.querySelectorAll("button")].find((b) => b.textContent?.startsWith("Download SmolLM2"))!;
  await vi.waitFor(() => expect(download()).toBeTruthy());
  // The recommendation from this machine's RAM and cores, with its reason and a way to get it.
  const recommendation = panel.querySelector<HTMLElement>('[data-testid="first-run-recommendation"]')!;
  await vi.waitFor(() => expect(recommendation).toBeTruthy());
  expect(recommendation.dataset.modelId).toBe("q");
  expect(recommendation.querySelector("p")!.textContent)
    .toBe("Recommended: Qwen2.5 Coder 0.5B (recommended for 8 GiB RAM, 4 cores) — now using SmolLM2.");
  expect([...recommendation.querySelectorAll("button")].some((b) => b.textContent === "Download Qwen2.5 Coder 0.5B (469 MB)")).toBe(true);

  download().click();
  await vi.waitFor(() => expect(panel.querySelector("progress")?.value).toBe(0.5));
  [...panel.querySelectorAll("button")].find((b) => b.textContent === "Cancel download")!.click();
  await vi.waitFor(() => expect(document.querySelector('[data-testid="toast"]')?.getAttribute("data-code")).toBe("cancelled"));
  expect(download().hidden).toBe(false);

  download().click();
  await vi.waitFor(() => expect(finishDownload).toBeTruthy());
  finishDownload!();
  await vi.waitFor(() => expect(status.dataset.state).toBe("ready"));
  expect(panel.querySelector("h3")?.textContent).toBe("✓ 1. Download the local models");

  document.querySelector<HTMLElement>('[data-testid="first-run-dismiss"]')!.click();
  expect(panel.hidden).toBe(true);
});
