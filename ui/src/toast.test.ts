// @vitest-environment happy-dom
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { toast, toastRegion } from "./toast";

beforeEach(() => {
  vi.useFakeTimers();
  toastRegion().replaceChildren();
});
afterEach(() => vi.useRealTimers());

const shown = () => [...toastRegion().querySelectorAll<HTMLElement>("[data-testid=toast]")].map((t) => t.querySelector(".toast-message")!.textContent);

it("information goes by itself, an error stays until dismissed", () => {
  toast("Budget saved.");
  toast("The remote model refused the key.", { code: "remote", error: true });
  vi.advanceTimersByTime(60_000);
  expect(shown()).toEqual(["The remote model refused the key."]);
  toastRegion().querySelector<HTMLButtonElement>("[aria-label=Dismiss]")!.click();
  expect(shown()).toEqual([]);
});

it("toasts never pile up: at most three, and a repeated message replaces the earlier one", () => {
  for (const message of ["One saved.", "Two saved.", "Two saved.", "Three saved.", "Four saved."]) toast(message);
  expect(shown()).toEqual(["Two saved.", "Three saved.", "Four saved."]);
});
