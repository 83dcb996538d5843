/** GET /dashboard: the operator dashboard page, with a strict Content-Security-Policy (functions/pages.ts). */
import { Hono } from "hono";
import { pageCsp, scriptHash, servePage } from "../pages.ts";
import { DASHBOARD_SCRIPT } from "./bundle.ts";
import { dashboardHtml } from "./page.ts";

let cached: { html: string; csp: string } | undefined;

export const dashboardRoutes = new Hono().get("/", (c) => servePage(c, async () => (cached ??= { html: dashboardHtml(), csp: pageCsp(await scriptHash(DASHBOARD_SCRIPT), "'self'") })));
