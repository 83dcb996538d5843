/** The committed dashboard bundle (functions/dashboard/bundle.ts) is the build of its sources. */
import { describe, expect, it } from "vitest";
import { buildDashboardScript } from "../../../scripts/build-dashboard.ts";
import { DASHBOARD_SCRIPT } from "../../../functions/dashboard/bundle.ts";

describe("dashboard bundle", () => {
  it("is up to date with client/dashboard/app.ts, client/api and protocol/log (else run `npx tsx scripts/build-dashboard.ts`)", async () => {
    expect((await buildDashboardScript()) === DASHBOARD_SCRIPT).toBe(true);
  });

  it("carries protocol/log's verifier and the API client, not zod", () => {
    expect(DASHBOARD_SCRIPT.includes("2pm/log/v1")).toBe(true); // entryHash's domain separator
    expect(DASHBOARD_SCRIPT.includes("ApiClientError")).toBe(true); // the client's one error type
    expect(DASHBOARD_SCRIPT.includes("ZodError")).toBe(false); // the spec signer (zod) is left out
    expect(DASHBOARD_SCRIPT.length).toBeLessThan(150_000);
    expect(/<\/script/i.test(DASHBOARD_SCRIPT)).toBe(false);
  });
});
