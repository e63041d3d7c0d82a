// Where a citation's passage sits in its document's text.

/** `text` cut around a cited range given in Unicode characters (as the engine counts them, not
 *  UTF-16 units): [before, cited, after]. Bounds outside the text are clamped to it. */
export function splitAtCitation(text: string, start: number, end: number): [string, string, string] {
  const chars = Array.from(text);
  const from = Math.max(0, Math.min(start, chars.length));
  const to = Math.max(from, Math.min(end, chars.length));
  return [chars.slice(0, from).join(""), chars.slice(from, to).join(""), chars.slice(to).join("")];
}
