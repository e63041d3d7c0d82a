import { historyExport, type ExportFormat, type ExportSelection } from "../api";
import { h } from "../dom";
import { showError, toast } from "../toast";

/** Writes the export to a new file (the engine picks the folder and a name that overwrites nothing) and says where. */
export async function exportAnswers(selection: ExportSelection, format: ExportFormat): Promise<string | null> {
  try {
    const path = await historyExport(selection, format);
    toast(`Exported to ${path}`, { code: "exported" });
    return path;
  } catch (err) {
    showError(err);
    return null;
  }
}

/** "Export Markdown" and "Export JSON" buttons for whatever `selection()` returns at the click (null: nothing to export). */
export function exportButtons(testid: string, selection: () => ExportSelection | null): HTMLElement {
  const button = (format: ExportFormat, label: string) =>
    h("button", {
      type: "button", "data-testid": `${testid}-${format}`,
      onclick: () => {
        const chosen = selection();
        if (chosen === null) toast("Nothing to export yet.", { code: "nothing_to_export" });
        else void exportAnswers(chosen, format);
      },
    }, label);
  return h("div", { class: "export-buttons" }, button("markdown", "Export Markdown"), button("json", "Export JSON"));
}
