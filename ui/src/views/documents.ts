import { Channel } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { getCurrentWebview } from "@tauri-apps/api/webview";
import { open } from "@tauri-apps/plugin-dialog";
import {
  DOCUMENTS_CHANGED_EVENT, documentsAdd, documentsCancel, documentsFolders, documentsList, documentsRemove, documentsSetFolderPrivate,
  documentsSetPrivate, documentsSync, documentsText, type DocumentInfo, type FileReport, type FolderInfo, type IndexEvent,
} from "../api";
import { emptyState } from "../components";
import { field, fill, h, progressBar } from "../dom";
import { formatBytes, formatDateTime, pageHeading } from "../lib/format";
import { indexProgressView } from "../lib/progress";
import { refreshStatus } from "../status";
import { errorCode, showError, toast } from "../toast";
import type { AppContext, View } from "./view";

function outcomeText(report: FileReport): string {
  const o = report.outcome;
  switch (o.status) {
    case "added":
    case "updated":
      return `${o.status === "added" ? "Added" : "Updated"} · ${o.chunks} chunks`;
    case "unchanged":
      return "Unchanged";
    case "removed":
      return "Removed";
    case "failed":
      return `Failed: ${o.error}`;
  }
}

export function createDocumentsView(ctx: AppContext): View {
  let documents: DocumentInfo[] = [];
  let folders: FolderInfo[] = [];
  let indexing = false;

  const pathInput = h("input", { type: "text", "data-testid": "path-input", placeholder: "/home/me/Papers or C:\\Docs\\report.pdf", autocomplete: "off", spellcheck: "false" });
  const bar = progressBar(0, { "data-testid": "index-progress", "aria-label": "Indexing progress" });
  const progressLabel = h("p", { class: "muted small progress-label" });
  const progressBox = h("div", { class: "progress-box", hidden: true },
    bar, progressLabel,
    h("button", { type: "button", "data-testid": "index-cancel", onclick: () => documentsCancel().catch(showError) }, "Cancel"));
  const reportList = h("ul", { class: "reports" });
  const reportBox = h("section", { class: "report-box", hidden: true, "aria-labelledby": "report-title" },
    h("h2", { id: "report-title" }, "Last import"), reportList);
  const table = h("tbody");
  const folderList = h("ul", { class: "folders", "data-testid": "folder-list" });
  const folderBox = h("section", { class: "folder-box", hidden: true, "aria-labelledby": "folders-title" },
    h("h2", { id: "folders-title" }, "Folders kept in step"),
    h("p", { class: "muted small" }, "A private folder's documents, now and later, never leave this device: their passages are never sent to a remote model."),
    folderList);
  const dropZone = h("div", { class: "drop-zone", "data-testid": "drop-zone" }, "Drop files or folders here to add them");
  const actions = [
    h("button", { type: "button", "data-testid": "add-files", onclick: pickFiles }, "Add files…"),
    h("button", { type: "button", "data-testid": "add-folder", onclick: pickFolder }, "Add folder…"),
    h("button", { type: "button", "data-testid": "sync-button", onclick: () => index((ch) => documentsSync(ch)) }, "Re-sync folders"),
  ];
  const addPathButton = h("button", { type: "submit", "data-testid": "add-path-button" }, "Add");
  const textDialog = h("dialog", { class: "document-text-dialog", "data-testid": "document-text-dialog", "aria-labelledby": "document-text-title" });

  const root = h("section", { class: "view", "data-testid": "view-documents", "aria-labelledby": "documents-title", hidden: true },
    h("header", { class: "view-header" }, h("h1", { id: "documents-title" }, "Documents"), h("div", { class: "toolbar" }, ...actions)),
    dropZone,
    h("form", { class: "path-form", onsubmit: addTypedPath }, field("File or folder path", pathInput), addPathButton),
    progressBox,
    reportBox,
    folderBox,
    h("table", { class: "documents" },
      h("thead", {}, h("tr", {}, ...["Title", "Path", "Format", "Size", "Chunks", "Indexed", "Private", ""].map((t) => h("th", { scope: "col" }, t)))),
      table),
    textDialog);

  function renderReports(reports: FileReport[]) {
    reportBox.hidden = reports.length === 0;
    reportList.replaceChildren(...reports.map((r) =>
      h("li", { class: `report report-${r.outcome.status}`, "data-testid": "file-report", "data-status": r.outcome.status },
        h("span", { class: "path" }, r.path), h("span", { class: "outcome" }, outcomeText(r)))));
  }

  function renderDocuments() {
    if (documents.length === 0) {
      table.replaceChildren(h("tr", {}, h("td", { colspan: 8 }, emptyState("No documents yet. Add files or a folder to chat with them."))));
      return;
    }
    table.replaceChildren(...documents.map((d) =>
      h("tr", { "data-testid": "document-row", "data-document-id": d.id },
        h("td", {}, d.title),
        h("td", { class: "path" }, d.path),
        h("td", {}, d.format),
        h("td", { class: "num" }, formatBytes(d.size_bytes)),
        h("td", { class: "num" }, String(d.chunk_count)),
        h("td", {}, formatDateTime(d.indexed_at * 1000)),
        h("td", { class: "private-cell" }, privateToggle(d)),
        h("td", { class: "row-actions" },
          h("button", { type: "button", "data-testid": "show-text", "aria-label": `Show the text read from ${d.title}`, onclick: () => showText(d) }, "Text"),
          h("button", { type: "button", "data-testid": "remove-document", "aria-label": `Remove ${d.title}`, onclick: () => remove(d) }, "Remove")))));
  }

  /** "Never leaves this device": checked and fixed while a private folder covers the document. */
  function privateToggle(doc: DocumentInfo): HTMLElement {
    const byFolder = doc.private_folder !== null;
    const box = h("input", {
      type: "checkbox", "data-testid": "document-private",
      "aria-label": `${doc.title} never leaves this device`,
      title: byFolder ? `Private because its folder ${doc.private_folder} is private` : "Never send passages of this document to a remote model",
    });
    box.checked = doc.private;
    box.disabled = byFolder;
    box.addEventListener("change", () => void setPrivate(doc, box));
    return h("label", { class: "private-toggle" }, box, h("span", { class: "small" }, byFolder ? "by folder" : ""));
  }

  async function setPrivate(doc: DocumentInfo, box: HTMLInputElement) {
    const wanted = box.checked;
    box.disabled = true;
    try {
      await documentsSetPrivate(doc.id, wanted);
      toast(wanted ? `“${doc.title}” never leaves this device.` : `“${doc.title}” may be sent to a remote model again.`, { code: "private" });
    } catch (err) {
      showError(err);
    }
    await refresh();
  }

  function renderFolders() {
    folderBox.hidden = folders.length === 0;
    folderList.replaceChildren(...folders.map((folder) => {
      const box = h("input", { type: "checkbox", "data-testid": "folder-private", "aria-label": `${folder.path} never leaves this device` });
      box.checked = folder.private;
      box.addEventListener("change", async () => {
        box.disabled = true;
        try {
          await documentsSetFolderPrivate(folder.path, box.checked);
          toast(box.checked ? `Everything in ${folder.path} never leaves this device.` : `${folder.path} may be sent to a remote model again.`, { code: "private" });
        } catch (err) {
          showError(err);
        }
        await refresh();
      });
      return h("li", { class: "folder", "data-testid": "folder-row", "data-path": folder.path },
        h("span", { class: "path" }, folder.path),
        h("label", { class: "private-toggle" }, box, h("span", {}, "Private")));
    }));
  }

  /** What the library read from a document, page by page: for checking a PDF came through right. */
  async function showText(doc: DocumentInfo) {
    try {
      const read = await documentsText(doc.id);
      const pages = read.pages.length
        ? read.pages.map((page) => h("section", { class: "document-page", "data-testid": "document-page", "data-page": page.number },
            h("h3", {}, pageHeading(page)), h("p", { class: "page-text" }, page.text)))
        : [h("section", { class: "document-page", "data-testid": "document-page" }, h("p", { class: "page-text" }, read.text))];
      fill(textDialog,
        h("h2", { id: "document-text-title" }, doc.title),
        h("p", { class: "muted small path" }, `${doc.path} · ${read.pages.length ? `${read.pages.length} ${read.pages.length === 1 ? "page" : "pages"} with text` : doc.format}`),
        h("div", { class: "document-pages" }, ...pages),
        h("div", { class: "dialog-actions" },
          h("button", { type: "button", "data-testid": "document-text-close", autofocus: true, onclick: () => textDialog.close() }, "Close")));
      textDialog.showModal();
    } catch (err) {
      showError(err);
    }
  }

  function setIndexing(on: boolean) {
    indexing = on;
    progressBox.hidden = !on;
    [...actions, addPathButton].forEach((b) => (b.disabled = on));
  }

  async function index(run: (channel: Channel<IndexEvent>) => Promise<FileReport[]>) {
    if (indexing) {
      toast("Still indexing: wait for it to finish or cancel it first.", { code: "busy", error: true });
      return;
    }
    setIndexing(true);
    bar.value = 0;
    progressLabel.textContent = "Starting…";
    renderReports([]);
    const channel = new Channel<IndexEvent>();
    channel.onmessage = (event) => {
      const view = indexProgressView(event);
      if (view.fraction === null) bar.removeAttribute("value");
      else bar.value = view.fraction;
      progressLabel.textContent = view.label;
    };
    try {
      renderReports(await run(channel));
    } catch (err) {
      if (errorCode(err) === "cancelled") toast("Indexing cancelled.", { code: "cancelled" });
      else showError(err);
    } finally {
      setIndexing(false);
      await refresh();
      void refreshStatus();
    }
  }

  const add = (paths: string[]) => index((ch) => documentsAdd(paths, ch));

  async function pickFiles() {
    try {
      const picked = await open({ multiple: true, directory: false, title: "Add files" });
      if (picked?.length) await add(picked);
    } catch (err) {
      showError(err);
    }
  }

  async function pickFolder() {
    try {
      const picked = await open({ multiple: true, directory: true, title: "Add folder" });
      if (picked?.length) await add(picked);
    } catch (err) {
      showError(err);
    }
  }

  function addTypedPath(e: Event) {
    e.preventDefault();
    const path = pathInput.value.trim();
    if (!path) return;
    pathInput.value = "";
    void add([path]);
  }

  async function remove(doc: DocumentInfo) {
    try {
      const removed = await documentsRemove(doc.id);
      await refresh();
      void refreshStatus();
      toast(`Removed “${removed.title}”.`, {
        code: "removed",
        action: { label: "Undo", testid: "undo-button", run: () => void add([removed.path]) },
      });
    } catch (err) {
      showError(err);
    }
  }

  async function refresh() {
    try {
      [documents, folders] = await Promise.all([documentsList(), documentsFolders()]);
    } catch (err) {
      showError(err);
    }
    renderDocuments();
    renderFolders();
  }

  // Outside the Tauri shell (a plain browser) these subscriptions do not exist; nothing for the user to fix.
  listen(DOCUMENTS_CHANGED_EVENT, () => void refresh()).catch((err) => console.warn("documents-changed unavailable", err));
  try {
    getCurrentWebview().onDragDropEvent(({ payload }) => {
      dropZone.classList.toggle("drag-over", payload.type === "enter" || payload.type === "over");
      if (payload.type === "drop" && payload.paths.length) {
        void ctx.navigate("documents");
        void add(payload.paths);
      }
    }).catch((err) => console.warn("drag and drop unavailable", err));
  } catch (err) {
    console.warn("drag and drop unavailable", err);
  }

  return { root, show: refresh };
}
