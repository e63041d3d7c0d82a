import { describe, expect, it } from "vitest";
import { readLanguages, readNumber } from "./parse";

describe("readNumber", () => {
  it("reads numbers and optional blanks", () => {
    expect(readNumber(" 2.5 ", "Price")).toBe(2.5);
    expect(readNumber("", "Price", { optional: true })).toBeNull();
  });
  it("names the field in its errors", () => {
    expect(() => readNumber("", "Budget")).toThrow("Budget is required.");
    expect(() => readNumber("abc", "Budget")).toThrow("Budget must be a number.");
    expect(() => readNumber("1.5", "Tokens", { integer: true })).toThrow("Tokens must be a whole number.");
    expect(() => readNumber("-1", "Budget", { min: 0 })).toThrow("Budget must be at least 0.");
    expect(() => readNumber("2", "Accuracy", { max: 1 })).toThrow("Accuracy must be at most 1.");
  });
});

describe("readLanguages", () => {
  it("joins Tesseract codes with +, however they were separated", () => {
    expect(readLanguages(" eng + rus ")).toBe("eng+rus");
    expect(readLanguages("eng, deu chi_sim")).toBe("eng+deu+chi_sim");
    expect(readLanguages("")).toBe("");
  });
});
