import { describe, expect, it } from "vitest";
import { splitAtCitation } from "./passage";

describe("splitAtCitation", () => {
  it("counts characters as the engine does, not UTF-16 units", () => {
    // "𝔸" is one character and two UTF-16 units: a UTF-16 cut would land one place early.
    expect(splitAtCitation("𝔸 Paris is the capital.", 2, 7)).toEqual(["𝔸 ", "Paris", " is the capital."]);
  });
  it("clamps a range that runs past the text", () => {
    expect(splitAtCitation("short", 3, 99)).toEqual(["sho", "rt", ""]);
    expect(splitAtCitation("short", 9, 12)).toEqual(["short", "", ""]);
  });
});
