// Small DOM builders: text goes in through textContent only, so data can never become markup.

type Child = Node | string | null | undefined | false;
type AttrValue = string | number | boolean | null | undefined;
type Attrs = Record<string, AttrValue | ((event: any) => void)>;

function apply(el: Element, attrs: Attrs, children: Child[]) {
  for (const [key, value] of Object.entries(attrs)) {
    if (typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else if (value !== false && value !== null && value !== undefined) el.setAttribute(key, String(value));
  }
  for (const child of children) if (child) el.append(child);
}

/** `h("button", { class: "x", onclick: fn }, "Label")`; `on*` keys add listeners, `true` sets a boolean attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  apply(el, attrs, children);
  return el;
}

/** replaceChildren that skips the null/false placeholders conditional rendering produces. */
export function fill(el: Element, ...children: Child[]) {
  el.replaceChildren(...children.filter((c): c is Node | string => Boolean(c)));
}

export function s<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): SVGElementTagNameMap[K] {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  apply(el, attrs, children);
  return el;
}

/** A labelled form control: the label wraps the control so every input has an accessible name. */
export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h("label", { class: "field" }, h("span", { class: "field-label" }, label), control, hint ? h("span", { class: "hint" }, hint) : null);
}

export function progressBar(fraction: number | null, attrs: Attrs = {}): HTMLProgressElement {
  const bar = h("progress", { max: 1, ...attrs });
  // A progress element without a value is indeterminate.
  if (fraction !== null) bar.value = fraction;
  return bar;
}
