/**
 * Fault 4 of issue 15: a stalled member is blamed, fast. A member whose socket stays open but
 * that sends nothing (as a node under SIGSTOP) is named in a `timeout` abort once it has been
 * silent for the progress timeout while the others are heard; the others are not blamed.
 * Real local coordinator (Miniflare, the deploy bundle), real parties through runRelaySession.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RoundAborted } from "../../../client/agent/relay-session.ts";
import { signUrl } from "../../../protocol/crypto/request.ts";
import { fieldByName } from "../../../protocol/field/index.ts";
import { cryptoRng } from "../../../protocol/rng.ts";
import { startCoordinator, type LocalCoordinator } from "../../../scripts/lib/coordinator.ts";
import { newRound, startMember } from "./harness.ts";

let coord: LocalCoordinator;
beforeAll(async () => {
  // Light rounds: an 8 s progress timeout (the deployed default is 10 s).
  coord = await startCoordinator({ apiToken: `stall-${Date.now()}`, vars: { LIVENESS_WINDOW_S: "600", ROUND_PROGRESS_TIMEOUT_MS: "8000" } });
});
afterAll(async () => {
  await coord?.stop();
});

describe("a stalled member is blamed, fast (fault 4)", () => {
  it("a member whose socket stays open but that sends nothing (as under SIGSTOP) is named within ~10 s; the others are not", async () => {
    const { nodes, assignments, length } = await newRound(coord, 3, "validated");
    const field = fieldByName(assignments[0]!.manifest.field);
    const t0 = Date.now();
    // Member 2 connects (so the round runs) and then falls silent: no view, no ping, nothing.
    const k = assignments.findIndex((a) => a.index === 2); // nodes[k] holds committee index 2
    const stalled = assignments[k]!;
    const url = signUrl({ url: `${coord.url.replace(/^http/, "ws")}/v1/rounds/${stalled.jobId}/${stalled.round}/${stalled.attempt}/ws`, nodeId: nodes[k]!.id, identitySecretKey: nodes[k]!.keys.identitySecretKey });
    const silent = new WebSocket(url);
    await new Promise((resolve, reject) => { silent.addEventListener("open", resolve); silent.addEventListener("error", reject); });
    const members = assignments.flatMap((a, i) => (i === k ? [] : [startMember(coord, nodes[i]!, a, field.fromInts(new Array<number>(length).fill(1)), { opts: { rng: cryptoRng } })]));
    const errs = await Promise.all(members.map((m) => m.run.then(() => undefined, (e: unknown) => e)));
    const elapsed = Date.now() - t0;
    silent.close();
    for (const e of errs) expect(e).toBeInstanceOf(RoundAborted);
    for (const e of errs as RoundAborted[]) expect({ code: e.code, culprits: e.culprits }).toEqual({ code: "timeout", culprits: [2] });
    expect(elapsed).toBeLessThan(15_000);
    const r = await fetch(`${coord.url}/v1/jobs/${stalled.jobId}/rounds`, { headers: { authorization: `Bearer ${coord.apiToken}` } });
    const info = ((await r.json()) as { rounds: Array<{ abort?: { code: string; culprits: string[] } }> }).rounds[0]!;
    expect(info.abort).toMatchObject({ code: "timeout", culprits: [nodes[k]!.id] });
  });
});
