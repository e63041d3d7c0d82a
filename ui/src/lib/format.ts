// Display formatting. Every function takes an optional locale so tests are deterministic;
// the app passes none and gets the system locale.

/** Money in its currency. Sub-dime amounts keep two significant digits: a 0.00045 USD
 *  answer must not read as "$0.00". Unknown currency codes fall back to "1.23 XYZ". */
export function formatMoney(amount: number, currency: string, locale?: string): string {
  const abs = Math.abs(amount);
  const digits: Intl.NumberFormatOptions =
    abs > 0 && abs < 0.1 ? { maximumSignificantDigits: 2 } : { minimumFractionDigits: 2, maximumFractionDigits: 2 };
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency, ...digits }).format(amount);
  } catch {
    const number = new Intl.NumberFormat(locale, digits).format(amount);
    return currency.trim() ? `${number} ${currency.trim()}` : number;
  }
}

/** A 0..1 share as a whole percentage. */
export function formatPercent(share: number, locale?: string): string {
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 }).format(share);
}

const BYTE_UNITS = ["B", "KB", "MB", "GB", "TB"];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 || value >= 100 ? Math.round(value).toString() : value.toFixed(1).replace(/\.0$/, "");
  return `${shown} ${BYTE_UNITS[unit]}`;
}

export function formatDateTime(ms: number, locale?: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone }).format(new Date(ms));
}

/** Pages of a citation: "p. 3", "pp. 3–5", or "" when the format has no pages. */
export interface PageRange {
  page_start: number | null;
  page_end: number | null;
  /** Printed page labels, where the document's differ from the physical page numbers. */
  page_label_start?: string | null;
  page_label_end?: string | null;
}

/** "Page 26 · printed 19": a page of the document pane, with its printed label when it differs. */
export function pageHeading(page: { number: number; label: string | null; ocr_confidence?: number | null }): string {
  const base = page.label ? `Page ${page.number} · printed ${page.label}` : `Page ${page.number}`;
  return page.ocr_confidence != null ? `${base} · read by OCR, ${Math.round(page.ocr_confidence)}% sure` : base;
}

/** "read by OCR, 88% sure" for a cited passage whose text came from OCR; "" otherwise. */
export function ocrNote(location: { ocr_confidence?: number | null }): string {
  return location.ocr_confidence != null ? `read by OCR, ${Math.round(location.ocr_confidence)}% sure` : "";
}

/** "p. 3", "pp. 3–5", or with printed labels "p. 19 (PDF page 26)". */
export function formatPages(range: PageRange): string {
  const { page_start: start, page_label_start: labelStart, page_label_end: labelEnd } = range;
  if (start === null) return "";
  const end = range.page_end === null || range.page_end < start ? start : range.page_end;
  const physical = end === start ? `${start}` : `${start}–${end}`;
  if (!labelStart && !labelEnd) return end === start ? `p. ${physical}` : `pp. ${physical}`;
  const first = labelStart ?? String(start);
  const last = labelEnd ?? String(end);
  return end === start ? `p. ${first} (PDF page ${physical})` : `pp. ${first}–${last} (PDF pages ${physical})`;
}
