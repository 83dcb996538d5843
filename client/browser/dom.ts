/** The few DOM helpers of the browser pages (node, querier, dashboard): lookup and element building, text only, never HTML. */

/** The element matching `sel`. Throws Error naming the selector when the page lacks it. */
export const $ = <T extends Element = HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`page is missing ${sel}`);
  return el;
};

/**
 * A new `tag` element with `attrs` (a function value `onX` becomes an `X` listener) and
 * `children` appended, strings and numbers as text nodes. Never parses HTML; never throws.
 */
export function h(tag: string, attrs: Record<string, string | ((e: Event) => void)> = {}, ...children: Array<Node | string | number>): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const c of children) el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}
