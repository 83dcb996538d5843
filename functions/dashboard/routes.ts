/** GET /dashboard: the operator dashboard page, with a strict Content-Security-Policy. */
import { Hono } from "hono";
import { toBase64Url } from "../../protocol/encoding.ts";
import { DASHBOARD_SCRIPT } from "./bundle.ts";
import { dashboardHtml } from "./page.ts";

let cached: { html: string; csp: string } | undefined;

async function page(): Promise<{ html: string; csp: string }> {
  if (!cached) {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(DASHBOARD_SCRIPT)));
    const b64 = toBase64Url(digest).replace(/-/g, "+").replace(/_/g, "/");
    const pad = "=".repeat((4 - (b64.length % 4)) % 4);
    cached = {
      html: dashboardHtml(),
      csp: `default-src 'none'; script-src 'sha256-${b64}${pad}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    };
  }
  return cached;
}

export const dashboardRoutes = new Hono().get("/", async (c) => {
  const p = await page();
  c.header("content-security-policy", p.csp);
  c.header("x-content-type-options", "nosniff");
  c.header("referrer-policy", "no-referrer");
  c.header("cache-control", "no-store");
  return c.html(p.html);
});
