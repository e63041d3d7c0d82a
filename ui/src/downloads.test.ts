// @vitest-environment happy-dom
// Two downloads asked for in a row: the second waits its turn, then starts by itself.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { expect, it, vi } from "vitest";
import type { CatalogModel } from "./api";

const started: string[] = [];
const finish = new Map<string, () => void>();

const model = (id: string, name: string): CatalogModel => ({
  id, name, kind: "chat", approx_size_mb: 100, quantization: "q8", license: "MIT", installed: false, active: false, tested_here: true,
  download_bytes: 100 * 1024 * 1024, memory_needed_mb: 200, memory_exact: false, speed: { state: "not_measured" },
} as unknown as CatalogModel);

it("queues a download asked for while another runs, and starts it when that one ends", async () => {
  mockWindows("main");
  mockIPC((cmd, args: any) => {
    if (cmd === "models_download") {
      started.push(args.id);
      return new Promise<void>((resolve) => finish.set(args.id, resolve));
    }
    if (cmd === "app_status") return { chat_model: { state: "missing", message: "" }, embedder: { state: "missing", message: "" }, first_run: true, documents: 0, questions: 0 };
    return null;
  });
  const { downloadControls } = await import("./components");
  const installed: string[] = [];
  const chat = downloadControls(model("chat", "SmolLM2"), () => installed.push("chat"));
  const embedder = downloadControls(model("embed", "MiniLM"), () => installed.push("embed"));
  document.body.append(chat, embedder);
  const button = (box: HTMLElement) => box.querySelector<HTMLButtonElement>('[data-testid="model-download"]')!;

  button(chat).click();
  await vi.waitFor(() => expect(started).toEqual(["chat"]));
  expect(button(embedder).disabled).toBe(false);
  button(embedder).click();
  await vi.waitFor(() => expect(button(embedder).textContent).toBe("MiniLM: queued, starts after the current download"));
  expect(button(embedder).disabled).toBe(true);
  expect(started).toEqual(["chat"]);

  finish.get("chat")!();
  await vi.waitFor(() => expect(started).toEqual(["chat", "embed"]));
  finish.get("embed")!();
  await vi.waitFor(() => expect(installed).toEqual(["chat", "embed"]));
  expect(button(embedder).textContent).toBe("Download MiniLM (100 MB)");
});
