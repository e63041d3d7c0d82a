import type { AppError, ErrorCode } from "./api";
import { h } from "./dom";

const region = h("div", { class: "toasts", role: "status", "aria-live": "polite" });

export const toastRegion = () => region;

interface ToastAction {
  label: string;
  testid: string;
  run: () => void;
}

/** At most this many toasts at once: a new one retires the oldest, so they never pile up over a view. */
const MAX_TOASTS = 3;

/**
 * Shows a message. Information goes by itself after 5 s and an undo offer after 12 s; an error
 * stays until dismissed, so it can be read. The same message again replaces the earlier one.
 */
export function toast(message: string, opts: { code?: string; action?: ToastAction; error?: boolean } = {}) {
  const close = () => el.remove();
  for (const same of region.querySelectorAll<HTMLElement>(".toast")) {
    if (same.querySelector(".toast-message")?.textContent === message) same.remove();
  }
  const action = opts.action;
  const el = h(
    "div",
    { class: opts.error ? "toast error" : "toast", "data-testid": "toast", "data-code": opts.code ?? "info", role: opts.error ? "alert" : null },
    h("span", { class: "toast-message" }, message),
    action && h("button", { type: "button", class: "link", "data-testid": action.testid, onclick: () => { close(); action.run(); } }, action.label),
    h("button", { type: "button", class: "icon", "aria-label": "Dismiss", onclick: close }, "×"),
  );
  region.append(el);
  while (region.children.length > MAX_TOASTS) region.firstElementChild!.remove();
  if (!opts.error) setTimeout(close, action ? 12000 : 5000);
}

function isAppError(err: unknown): err is AppError {
  return typeof err === "object" && err !== null && "code" in err && "message" in err;
}

/** The engine's code of a failed command; "error" for anything else (a bug in the UI). */
export function errorCode(err: unknown): ErrorCode | "error" {
  return isAppError(err) ? err.code : "error";
}

export function showError(err: unknown) {
  const message = isAppError(err) ? err.message : err instanceof Error ? err.message : String(err);
  toast(message, { code: errorCode(err), error: true });
}
