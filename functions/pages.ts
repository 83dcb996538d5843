/**
 * What the Worker's HTML pages share (the operator dashboard, the browser node, the browser
 * querier): one self-contained page shell and base style, one Content-Security-Policy shape
 * admitting inline scripts by their SHA-256 only, and the same hardening headers.
 */
import type { Context } from "hono";
import { toBase64Url } from "../protocol/encoding.ts";

/** The style every page starts from; a page appends its own rules. */
export const BASE_STYLE = `
:root{--bg:#0f1419;--panel:#171d24;--line:#2a323c;--fg:#e6e9ed;--mut:#8b96a3;--ok:#3fb950;--bad:#f85149;--run:#d29922;--acc:#58a6ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;border-bottom:1px solid var(--line)}header h1{font-size:18px;margin:0}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin-bottom:16px}h2{font-size:15px;margin:0 0 8px}
table{width:100%;border-collapse:collapse;font-size:13px}th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line)}th{color:var(--mut);font-weight:500}
button{background:var(--acc);color:#fff;border:0;border-radius:6px;padding:7px 14px;cursor:pointer}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}.mut{color:var(--mut)}.err{color:var(--bad)}`;

/** A whole page: `title`, BASE_STYLE then `style`, `body`, and `script` inlined last. Pure. */
export function pageHtml(title: string, style: string, body: string, script: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>${BASE_STYLE}${style}</style></head>
<body>
${body}
<script>${script}</script>
</body></html>`;
}

/** The CSP source `'sha256-<base64>'` admitting exactly the script `code`. */
export async function scriptHash(code: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(code)));
  const b64 = toBase64Url(digest).replace(/-/g, "+").replace(/_/g, "/");
  return `'sha256-${b64}${"=".repeat((4 - (b64.length % 4)) % 4)}'`;
}

/** A page's CSP: nothing by default; scripts from `scriptSrc`, inline style, connections to `connectSrc`, no framing, no forms. */
export function pageCsp(scriptSrc: string, connectSrc: string): string {
  return `default-src 'none'; script-src ${scriptSrc}; style-src 'unsafe-inline'; connect-src ${connectSrc}; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

/** The headers every page and page asset carries. */
export function hardening(c: Context): void {
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("cross-origin-opener-policy", "same-origin");
}

/** Serves a page with its own content security policy, never cached. */
export async function servePage(c: Context, load: () => Promise<{ html: string; csp: string }>): Promise<Response> {
  const p = await load();
  hardening(c);
  c.header("content-security-policy", p.csp);
  c.header("cache-control", "no-store");
  return c.html(p.html);
}
