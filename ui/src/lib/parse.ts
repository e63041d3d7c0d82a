export interface NumberRule {
  optional?: boolean; // empty text reads as null
  min?: number;
  max?: number;
  integer?: boolean;
}

/** Reads a form field as a number, or throws an Error whose message names the field. */
export function readNumber(text: string, label: string, rule: NumberRule = {}): number | null {
  const trimmed = text.trim();
  if (trimmed === "") {
    if (rule.optional) return null;
    throw new Error(`${label} is required.`);
  }
  const value = Number(trimmed);
  if (!Number.isFinite(value)) throw new Error(`${label} must be a number.`);
  if (rule.integer && !Number.isInteger(value)) throw new Error(`${label} must be a whole number.`);
  if (rule.min !== undefined && value < rule.min) throw new Error(`${label} must be at least ${rule.min}.`);
  if (rule.max !== undefined && value > rule.max) throw new Error(`${label} must be at most ${rule.max}.`);
  return value;
}

/** "eng + rus", "eng,rus" or "eng rus" as Tesseract's "eng+rus"; the settings check the codes. */
export function readLanguages(text: string): string {
  return text.split(/[+,\s]+/).map((code) => code.trim()).filter(Boolean).join("+");
}
