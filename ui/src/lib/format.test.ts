import { describe, expect, it } from "vitest";
import { formatBytes, formatDateTime, formatMoney, formatPages, formatPercent, ocrNote, pageHeading } from "./format";

describe("formatMoney", () => {
  it("shows ordinary amounts with two decimals in the currency", () => {
    expect(formatMoney(12.5, "USD", "en-US")).toBe("$12.50");
    expect(formatMoney(3, "EUR", "en-US")).toBe("€3.00");
    expect(formatMoney(0, "USD", "en-US")).toBe("$0.00");
  });
  it("keeps tiny costs readable instead of rounding them to zero", () => {
    expect(formatMoney(0.00045, "USD", "en-US")).toBe("$0.00045");
    expect(formatMoney(0.012345, "USD", "en-US")).toBe("$0.012");
    expect(formatMoney(0.05, "USD", "en-US")).toBe("$0.05");
  });
  it("follows the locale's conventions", () => {
    expect(formatMoney(1234.5, "EUR", "de-DE")).toBe("1.234,50\u00a0€");
  });
  it("falls back to the code when the currency is not an ISO code", () => {
    expect(formatMoney(1.5, "credits", "en-US")).toBe("1.50 credits");
    expect(formatMoney(1.5, "", "en-US")).toBe("1.50");
  });
});

describe("other formats", () => {
  it("formats percentages", () => {
    expect(formatPercent(0.873, "en-US")).toBe("87%");
    expect(formatPercent(1, "en-US")).toBe("100%");
  });
  it("formats sizes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(80 * 1024 * 1024)).toBe("80 MB");
    expect(formatBytes(1024 ** 3)).toBe("1 GB");
  });
  it("formats dates", () => {
    expect(formatDateTime(Date.UTC(2025, 0, 31, 14, 5), "en-US", "UTC")).toBe("Jan 31, 2025, 2:05 PM");
  });
  it("formats pages", () => {
    expect(pageHeading({ number: 26, label: "19" })).toBe("Page 26 · printed 19");
    expect(pageHeading({ number: 2, label: null })).toBe("Page 2");
    expect(pageHeading({ number: 3, label: null, ocr_confidence: 91.4 })).toBe("Page 3 · read by OCR, 91% sure");
    expect(ocrNote({ ocr_confidence: 87.6 })).toBe("read by OCR, 88% sure");
    expect(ocrNote({ ocr_confidence: null })).toBe("");
    expect(formatPages({ page_start: null, page_end: null })).toBe("");
    expect(formatPages({ page_start: 3, page_end: 3 })).toBe("p. 3");
    expect(formatPages({ page_start: 3, page_end: null })).toBe("p. 3");
    expect(formatPages({ page_start: 3, page_end: 5 })).toBe("pp. 3–5");
    expect(formatPages({ page_start: 26, page_end: 26, page_label_start: "19", page_label_end: "19" })).toBe("p. 19 (PDF page 26)");
    expect(formatPages({ page_start: 3, page_end: 4, page_label_start: "iii", page_label_end: "iv" })).toBe("pp. iii–iv (PDF pages 3–4)");
  });
});
