import { Channel } from "@tauri-apps/api/core";
import {
  chatAsk, chatCancel, chatConversation, chatConversations, chatEscalate, chatFeedback, chatKeepLocal, chatNewConversation, chatPending,
  chatPreviewPayload, chatSendApproved, documentsList, documentsText, settingsGet, type AskEvent, type Citation, type Conversation,
  type AnswerView, type DocumentInfo, type PendingApproval,
} from "../api";
import { emptyState, payloadPreview, renderBadge, renderReason } from "../components";
import { fill, h, s } from "../dom";
import {
  answerFromView, cancelAnswer, failAnswer, finishAnswer, newAnswer, reduceAnswer, selfCheckText, shownText, startEscalation, type AnswerState,
} from "../lib/answer";
import { badgeOf } from "../lib/badge";
import { exportButtons } from "../lib/export";
import { formatDateTime, formatMoney, formatPages, ocrNote } from "../lib/format";
import { splitAtCitation } from "../lib/passage";
import { refreshStatus } from "../status";
import { errorCode, showError, toast } from "../toast";
import type { View } from "./view";

interface Entry {
  answer: AnswerState;
  el: HTMLElement;
  compare: boolean;
  cancelRequested: boolean;
  escalating: boolean;
  /** An escalation waiting for the user: what Send would send now, and the passages left out. */
  pending: PendingApproval | null;
  excluded: Set<number>;
}

export interface ChatView extends View {
  focusQuestion(): void;
}

export function createChatView(): ChatView {
  let conversations: Conversation[] = [];
  let selected: number | null = null;
  const threads = new Map<number, Entry[]>();
  const running = new Set<number>(); // conversations with a question in flight
  let documents: DocumentInfo[] = [];
  let scopeAll = true;
  const chosen = new Set<number>();
  let remoteModel: string | null = null;

  const conversationList = h("ul", { class: "conversation-list" });
  const thread = h("div", { class: "thread", "aria-live": "polite" });
  const scopeDocs = h("div", { class: "scope-docs" });
  const question = h("textarea", {
    id: "question", rows: 3, "data-testid": "question-input",
    placeholder: "Ask about your documents… (Enter to send, Shift+Enter for a new line)",
  });
  const askButton = h("button", { type: "submit", class: "primary", "data-testid": "ask-button" }, "Ask");
  const cancelButton = h("button", { type: "button", "data-testid": "cancel-button", hidden: true, onclick: cancel }, "Cancel");
  const previewButton = h("button", { type: "button", "data-testid": "chat-preview-button", onclick: () => void previewPayload() }, "Preview what is sent");
  const dialog = h("dialog", { class: "passage-dialog", "data-testid": "passage-dialog", "aria-labelledby": "passage-title" });

  const scopeRadio = (all: boolean, testid: string, label: string) =>
    h("label", { class: "inline" },
      h("input", { type: "radio", name: "scope", "data-testid": testid, checked: all === scopeAll, onchange: () => { scopeAll = all; renderScope(); } }),
      label);

  question.addEventListener("keydown", (e: KeyboardEvent) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void ask();
    }
  });

  const root = h("section", { class: "view chat", "data-testid": "view-chat", "aria-labelledby": "chat-title" },
    h("aside", { class: "conversations" },
      h("h1", { id: "chat-title" }, "Chat"),
      h("button", { type: "button", "data-testid": "new-conversation", onclick: newConversation }, "+ New conversation"),
      h("nav", { "aria-label": "Conversations" }, conversationList),
      exportButtons("conversation-export", () => (selected === null ? null : { kind: "conversation", id: selected }))),
    h("div", { class: "chat-main" },
      thread,
      h("form", { class: "composer", onsubmit: (e: Event) => { e.preventDefault(); void ask(); } },
        h("fieldset", { class: "scope" },
          h("legend", {}, "Search in"),
          scopeRadio(true, "scope-all", "All documents"),
          scopeRadio(false, "scope-chosen", "Chosen documents"),
          scopeDocs),
        h("label", { for: "question", class: "visually-hidden" }, "Question"),
        question,
        h("div", { class: "composer-actions" }, previewButton, cancelButton, askButton))),
    dialog);

  function renderConversations() {
    conversationList.replaceChildren(...conversations.map((c) =>
      h("li", {},
        h("button", {
          type: "button", class: "conversation-item", "data-testid": "conversation-item", "data-conversation-id": c.id,
          "aria-current": c.id === selected ? "true" : null, onclick: () => select(c.id),
        }, h("span", { class: "conversation-title" },
          c.api_client !== null ? h("span", { class: "tag", title: "Asked by another program through the local API" }, `API · ${c.api_client}`) : null,
          c.title), h("span", { class: "muted small" }, formatDateTime(c.created_at_ms))))));
  }

  function renderScope() {
    scopeDocs.hidden = scopeAll;
    const known = new Set(documents.map((d) => d.id));
    for (const id of chosen) if (!known.has(id)) chosen.delete(id);
    scopeDocs.replaceChildren(documents.length === 0
      ? emptyState("No documents yet. Add some under Documents.")
      : h("ul", { class: "checklist", "aria-label": "Documents to search" }, ...documents.map((d) =>
          h("li", {}, h("label", { class: "inline" },
            h("input", {
              type: "checkbox", "data-testid": "scope-document", "data-document-id": d.id, checked: chosen.has(d.id),
              onchange: (e: Event) => { if ((e.target as HTMLInputElement).checked) chosen.add(d.id); else chosen.delete(d.id); },
            }),
            d.title)))));
  }

  function renderComposer() {
    const busy = selected !== null && running.has(selected);
    askButton.disabled = busy;
    cancelButton.hidden = !busy;
  }

  function renderThread() {
    const entries = selected === null ? [] : threads.get(selected) ?? [];
    thread.replaceChildren(...(entries.length ? entries.map((e) => e.el) : [emptyState("Ask a question about your documents to start.")]));
    thread.scrollTop = thread.scrollHeight;
  }

  function makeEntry(answer: AnswerState): Entry {
    const entry: Entry = { answer, el: h("article", { class: "answer", "data-testid": "answer" }), compare: false, cancelRequested: false, escalating: false,
    pending: null, excluded: new Set() };
    renderEntry(entry);
    return entry;
  }

  /** The cited passage in its document, highlighted and scrolled into view; the passage alone
   *  when the document's text is not at hand (a --context file, a removed document). */
  async function openPassage(c: Citation, passage: string) {
    const where = [formatPages(c), ocrNote(c), c.section].filter(Boolean).join(" · ");
    let body: HTMLElement = h("blockquote", { class: "passage" }, passage);
    let cited: HTMLElement | null = null;
    if (c.document_id > 0) {
      try {
        const [before, inside, after] = splitAtCitation((await documentsText(c.document_id)).text, c.char_start, c.char_end);
        if (inside.trim()) {
          cited = h("mark", { class: "cited", "data-testid": "cited-passage" }, inside);
          body = h("div", { class: "passage in-document", "data-testid": "passage-in-document" }, before, cited, after);
        }
      } catch {
        // The document was removed or its text not kept: the passage alone still shows the source.
      }
    }
    fill(dialog,
      h("h2", { id: "passage-title" }, c.title),
      where ? h("p", { class: "muted" }, where) : null,
      h("p", { class: "muted small path" }, c.path),
      body,
      h("div", { class: "dialog-actions" },
        h("button", { type: "button", "data-testid": "passage-close", autofocus: true, onclick: () => dialog.close() }, "Close")));
    dialog.showModal();
    // Its start at the top: a passage taller than the box, centred, would begin out of sight.
    cited?.scrollIntoView({ block: "start" });
  }

  /** What escalating the typed question would send, earlier turns of this conversation included. */
  async function previewPayload() {
    const text = question.value.trim();
    if (!text) {
      toast("Type a question to preview what would be sent.", { code: "empty_question" });
      return;
    }
    try {
      const preview = await chatPreviewPayload(text, selected, scopeAll ? null : [...chosen]);
      fill(dialog,
        h("h2", { id: "passage-title" }, "What escalating this question would send"),
        h("div", { class: "payload-preview", "data-testid": "chat-payload-preview" }, ...payloadPreview(preview)),
        h("div", { class: "dialog-actions" },
          h("button", { type: "button", "data-testid": "passage-close", autofocus: true, onclick: () => dialog.close() }, "Close")));
      dialog.showModal();
    } catch (err) {
      showError(err);
    }
  }

  function renderEntry(entry: Entry) {
    const a = entry.answer;
    const el = entry.el;
    el.dataset.state = a.phase;
    el.dataset.source = a.source;
    if (a.questionId !== null) el.dataset.questionId = String(a.questionId);
    const badge = badgeOf(a.routing, a.remoteError !== null && !a.remoteText);
    const done = a.phase === "done" && a.questionId !== null;
    const textEl = h("div", { class: "answer-text", "data-testid": "answer-text" }, shownText(a) || (a.phase === "streaming" ? "…" : ""));
    const showCompare = entry.compare && a.source === "remote";
    const feedback = (verdict: "up" | "down", label: string) =>
      h("button", {
        type: "button", class: "icon", "data-testid": `feedback-${verdict}`, "aria-label": label, title: label,
        "aria-pressed": String(a.feedback === verdict), onclick: () => sendFeedback(entry, verdict),
      }, thumb(verdict));

    fill(el,
      h("p", { class: "answer-question", "data-testid": "answer-question" }, a.question),
      a.citations.length ? h("ul", { class: "citations", "aria-label": "Sources" }, ...a.citations.map((c, i) =>
        h("li", {}, h("button", {
          type: "button", class: "chip", "data-testid": "citation-chip",
          onclick: () => void openPassage(c, a.passages[i] ?? c.snippet),
        }, [`[${i + 1}] ${c.title}`, formatPages(c), ocrNote(c)].filter(Boolean).join(" · "))))) : null,
      showCompare
        ? h("div", { class: "compare" },
            h("div", { class: "compare-col", "data-testid": "compare-local" }, h("h3", {}, "Local answer"), h("div", { class: "answer-text" }, a.localText)),
            h("div", { class: "compare-col", "data-testid": "compare-remote" }, h("h3", {}, a.routing?.remote_model ?? "Remote answer"), textEl))
        : textEl,
      a.remoteError ? h("p", { class: "note warning", "data-testid": "remote-note" }, `Remote model failed: ${a.remoteError} — the local answer stands`) : null,
      a.verified ? h("p", { class: "muted small", "data-testid": "self-check" }, selfCheckText(a)) : null,
      badge ? h("div", { class: "answer-meta" }, renderBadge(badge), renderReason(badge))
        : a.phase === "streaming" ? h("p", { class: "muted small" }, "Answering locally…") : null,
      done && a.routing?.decision === "awaiting_approval" ? approvalCard(entry) : null,
      a.phase === "failed" ? h("p", { class: "note error" }, a.error) : null,
      a.phase === "cancelled" ? h("p", { class: "note" }, "Cancelled.") : null,
      done ? h("div", { class: "answer-actions" },
        feedback("up", "Good answer"),
        feedback("down", "Bad answer"),
        // A pending escalation has its own Send on the card above.
        a.source === "local" && remoteModel && a.routing?.decision !== "awaiting_approval"
          ? h("button", { type: "button", "data-testid": "ask-remote", disabled: entry.escalating, onclick: () => escalate(entry) }, `Ask ${remoteModel}`) : null,
        a.source === "remote"
          ? h("button", {
              type: "button", "data-testid": "compare-button", "aria-pressed": String(entry.compare),
              onclick: () => { entry.compare = !entry.compare; renderEntry(entry); },
            }, "Compare with local") : null) : null);
  }

  /** "Ask me before sending": exactly what would leave, to whom, for at most how much; Send,
   *  Send without the unticked passages, or Keep local. Nothing is sent until one is clicked. */
  function approvalCard(entry: Entry): HTMLElement {
    const p = entry.pending;
    if (p === null) {
      void loadPending(entry);
      return h("section", { class: "approval-card", "data-testid": "approval-card", "data-state": "loading" }, h("p", { class: "muted small" }, "Preparing what would be sent…"));
    }
    const leftOut = entry.excluded.size;
    const passages = p.passages.map((passage) => {
      const box = h("input", {
        type: "checkbox", "data-testid": "approval-passage", "data-index": passage.index,
        "aria-label": `Send passage ${passage.index + 1}: ${passage.source}`,
      });
      box.checked = !passage.private && !entry.excluded.has(passage.index);
      box.disabled = passage.private || entry.escalating;
      box.addEventListener("change", () => {
        if (box.checked) entry.excluded.delete(passage.index);
        else entry.excluded.add(passage.index);
        void loadPending(entry);
      });
      return h("li", {}, h("label", { class: "inline" }, box, `[${passage.index + 1}] ${passage.source}`,
        passage.private ? h("span", { class: "muted small" }, " · private, never sent") : null));
    });
    const cost = formatMoney(p.worst_case_cost, p.currency);
    return h("section", { class: "approval-card", "data-testid": "approval-card", "data-state": "ready", "aria-label": "Approve sending" },
      h("h3", {}, `Send this question to ${p.model}?`),
      h("p", { "data-testid": "approval-summary" }, `To ${p.host} · about ${p.tokens} tokens · at most ${cost}`),
      p.withheld ? h("p", { class: "note private-note", "data-testid": "approval-withheld" }, `Kept on this device: ${p.withheld}.`) : null,
      p.masked ? h("p", { class: "note private-note", "data-testid": "approval-masked" }, `Masked before sending: ${p.masked}.`) : null,
      p.passages.length ? h("ul", { class: "checklist", "aria-label": "Passages to send" }, ...passages) : null,
      h("details", { class: "approval-payload" },
        h("summary", {}, "Exactly what is sent"),
        h("div", { class: "payload-preview", "data-testid": "approval-payload" },
          ...p.messages.map((m) => h("div", { class: "message" }, h("h4", {}, m.role), h("pre", {}, m.content))))),
      h("div", { class: "answer-actions" },
        h("button", {
          type: "button", class: "primary", "data-testid": "approval-send", disabled: entry.escalating || p.only_private,
          onclick: () => void sendApproved(entry),
        }, leftOut ? `Send without ${leftOut === 1 ? "this passage" : `these ${leftOut} passages`}` : "Send"),
        h("button", { type: "button", "data-testid": "approval-keep-local", disabled: entry.escalating, onclick: () => void keepLocal(entry) }, "Keep local")));
  }

  async function loadPending(entry: Entry) {
    try {
      entry.pending = await chatPending(entry.answer.questionId!, [...entry.excluded]);
      renderEntry(entry);
    } catch (err) {
      showError(err);
    }
  }

  /** Sends an approved pending escalation, without the passages the user unticked. */
  function sendApproved(entry: Entry) {
    return escalateWith(entry, (questionId, channel) => chatSendApproved(questionId, [...entry.excluded], channel));
  }

  async function keepLocal(entry: Entry) {
    try {
      entry.answer = answerFromView(await chatKeepLocal(entry.answer.questionId!));
      entry.pending = null;
      renderEntry(entry);
    } catch (err) {
      showError(err);
    }
  }

  function apply(entry: Entry, event: AskEvent) {
    entry.answer = reduceAnswer(entry.answer, event);
    const textEl = entry.el.querySelector<HTMLElement>("[data-testid=answer-text]");
    // Tokens arrive fast: update the text in place rather than rebuilding the card each time.
    if ((event.kind === "local_token" || event.kind === "remote_token") && textEl && !entry.compare && entry.el.dataset.source === entry.answer.source) {
      textEl.textContent = shownText(entry.answer);
    } else {
      renderEntry(entry);
    }
    if (entry.el.isConnected) thread.scrollTop = thread.scrollHeight;
  }

  async function ask() {
    const text = question.value.trim();
    if (!text || (selected !== null && running.has(selected))) return;
    if (!scopeAll && chosen.size === 0) {
      toast("Choose at least one document, or search all documents.", { code: "no_scope", error: true });
      return;
    }
    let conversationId = selected;
    if (conversationId === null) {
      try {
        conversationId = await chatNewConversation(text.slice(0, 60));
      } catch (err) {
        showError(err);
        return;
      }
      selected = conversationId;
      void loadConversations();
    }
    const entry = makeEntry(newAnswer(text));
    if (!threads.has(conversationId)) threads.set(conversationId, []);
    threads.get(conversationId)!.push(entry);
    running.add(conversationId);
    question.value = "";
    renderThread();
    renderComposer();
    const channel = new Channel<AskEvent>();
    channel.onmessage = (event) => apply(entry, event);
    try {
      const questionId = await chatAsk(text, conversationId, scopeAll ? null : [...chosen], channel);
      entry.answer = entry.cancelRequested ? cancelAnswer(entry.answer) : finishAnswer(entry.answer, questionId);
    } catch (err) {
      if (errorCode(err) === "cancelled") {
        entry.answer = cancelAnswer(entry.answer);
      } else {
        entry.answer = failAnswer(entry.answer, (err as { message?: string }).message ?? String(err));
        showError(err);
      }
    } finally {
      running.delete(conversationId);
      renderEntry(entry);
      renderComposer();
      void refreshStatus();
    }
  }

  async function cancel() {
    if (selected === null) return;
    const entries = threads.get(selected) ?? [];
    entries.forEach((e) => { if (e.answer.phase === "streaming") e.cancelRequested = true; });
    try {
      await chatCancel(selected);
    } catch (err) {
      showError(err);
    }
  }

  async function sendFeedback(entry: Entry, verdict: "up" | "down") {
    const next = entry.answer.feedback === verdict ? null : verdict;
    try {
      await chatFeedback(entry.answer.questionId!, next);
      entry.answer = { ...entry.answer, feedback: next };
      renderEntry(entry);
      entry.el.querySelector<HTMLElement>(`[data-testid=feedback-${verdict}]`)?.focus();
    } catch (err) {
      showError(err);
    }
  }

  /** "Ask <model>" on a local answer. */
  function escalate(entry: Entry) {
    return escalateWith(entry, chatEscalate);
  }

  /** Runs a remote call for an answered question, streaming into its card. */
  async function escalateWith(entry: Entry, send: (questionId: number, channel: Channel<AskEvent>) => Promise<AnswerView>) {
    // One question at a time per conversation, an escalation included; Cancel stops it.
    const conversationId = selected;
    if (conversationId === null || running.has(conversationId)) return;
    running.add(conversationId);
    renderComposer();
    const before = entry.answer;
    entry.answer = startEscalation(before);
    entry.escalating = true;
    renderEntry(entry);
    const channel = new Channel<AskEvent>();
    channel.onmessage = (event) => apply(entry, event);
    try {
      entry.answer = answerFromView(await send(before.questionId!, channel));
      entry.pending = null;
    } catch (err) {
      // A failed remote call comes back as an answer with its error (shown on the answer); what
      // is thrown is a cancel, or a refusal before anything was sent (budget, no remote, only
      // private passages): the answer is left as it was and a refusal's toast says why.
      entry.answer = before;
      if (errorCode(err) !== "cancelled") showError(err);
    } finally {
      running.delete(conversationId);
      renderComposer();
      entry.escalating = false;
      renderEntry(entry);
    }
  }

  async function select(id: number) {
    selected = id;
    renderConversations();
    renderComposer();
    // A conversation with a question in flight keeps its live cards.
    if (!running.has(id)) {
      try {
        const views = await chatConversation(id);
        if (selected !== id || running.has(id)) return;
        threads.set(id, views.map((v) => makeEntry(answerFromView(v))));
      } catch (err) {
        showError(err);
      }
    }
    renderThread();
  }

  function newConversation() {
    // The conversation itself is created with the first question, so empty ones never pile up.
    selected = null;
    renderConversations();
    renderThread();
    renderComposer();
    question.focus();
  }

  async function loadConversations() {
    try {
      conversations = await chatConversations();
    } catch (err) {
      showError(err);
    }
    renderConversations();
  }

  async function show() {
    const [docs, settings] = await Promise.allSettled([documentsList(), settingsGet()]);
    if (docs.status === "fulfilled") documents = docs.value;
    else showError(docs.reason);
    if (settings.status === "fulfilled") {
      const { endpoint, model } = settings.value.remote;
      remoteModel = endpoint.trim() && model.trim() ? model.trim() : null;
    } else showError(settings.reason);
    renderScope();
    await loadConversations();
    if (selected !== null) await select(selected);
    else renderThread();
    renderComposer();
  }

  return { root, show, focusQuestion: () => question.focus() };
}

/** A thumb drawn as SVG: emoji fonts are missing on many Linux desktops, where 👍 shows as a box. */
function thumb(verdict: "up" | "down"): SVGSVGElement {
  const icon = s("svg", { viewBox: "0 0 24 24", width: 18, height: 18, "aria-hidden": "true", class: verdict === "down" ? "thumb flipped" : "thumb" },
    s("path", { d: "M7 10v11H3V10h4zm2 11h8.5a2 2 0 0 0 2-1.6l1.4-7A2 2 0 0 0 19 10h-5.5l.9-4.2a1.5 1.5 0 0 0-2.6-1.3L9 9v12z" }));
  return icon;
}
