/** The Worker's HTML pages share one shell, one CSP shape and one set of headers (functions/pages.ts). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { dashboardRoutes } from "../../../functions/dashboard/routes.ts";
import { DASHBOARD_SCRIPT } from "../../../functions/dashboard/bundle.ts";
import { pageCsp, pageHtml, scriptHash } from "../../../functions/pages.ts";

const sha = (s: string): string => createHash("sha256").update(s, "utf8").digest("base64");

describe("pages", () => {
  it("scriptHash is the CSP source of exactly that script; pageCsp forbids everything else", async () => {
    expect(await scriptHash("alert(1)")).toBe(`'sha256-${sha("alert(1)")}'`);
    const csp = pageCsp("'sha256-x'", "'self'");
    expect(csp).toMatch(/^default-src 'none'; script-src 'sha256-x'; /);
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it("pageHtml inlines the script once, after the body, with the base style first", () => {
    const html = pageHtml("T", "p{x:y}", "<main></main>", "go()");
    expect(html).toMatch(/<title>T<\/title><style>\n:root\{.*p\{x:y\}<\/style>/s);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html.indexOf("<main></main>")).toBeLessThan(html.indexOf("<script>go()</script>"));
  });

  it("serves /dashboard with a CSP admitting only its inline script, hardened and never cached", async () => {
    const res = await dashboardRoutes.request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBe(pageCsp(`'sha256-${sha(DASHBOARD_SCRIPT)}'`, "'self'"));
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const html = await res.text();
    expect(html).toContain(`<script>${DASHBOARD_SCRIPT}</script>`);
    expect(/\s(src|href)=/.test(html.replace(DASHBOARD_SCRIPT, ""))).toBe(false);
  });
});
