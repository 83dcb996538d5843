/**
 * `npm run test:sim`: ≥ 10,000 seeded schedules of the coordinator core (JobDO runner + RoundDO
 * referee + simulated nodes) under crashes, storage faults, evictions, outages, delays and
 * misbehaving nodes, with every invariant checked after every event (./simulator.ts).
 *
 *   SIM_SEEDS=n        how many schedules (default 10000), from SIM_FROM (default 0)
 *   SIM_SEED=s         replay one seed exactly, checking the whole log after every event, with its trace
 *
 * Ed25519 runs through Node's native crypto here (same algorithm, byte-identical signatures,
 * checked below) so that 10,000 schedules fit in the CI budget.
 */
import os from "node:os";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it, vi } from "vitest";
import { simulate, type SimBug, type SimReport } from "./simulator.ts";
import * as native from "./native-ed25519.ts";

vi.mock("../../protocol/crypto/identity.ts", async (importOriginal) => {
  const orig = await importOriginal<typeof import("../../protocol/crypto/identity.ts")>();
  const n = await import("./native-ed25519.ts");
  return { ...orig, sign: n.sign, verify: n.verify };
});

const one = process.env.SIM_SEED;
const count = Number(process.env.SIM_SEEDS ?? 10_000);
const from = Number(process.env.SIM_FROM ?? 0);

function describeFailure(r: SimReport): string {
  return [
    `seed ${r.seed}: ${r.problems.length} invariant violation(s) — replay with SIM_SEED=${r.seed} npm run test:sim`,
    ...r.problems.map((p) => `  ${p}`),
    `  faulty nodes: ${r.faulty.join(", ") || "none"}; JobDO crashes ${r.jobCrashes}, RoundDO resets ${r.roundCrashes}, injected faults ${r.faults}`,
    ...(r.trace.length ? ["  last events:", ...r.trace.map((t) => `    ${t}`)] : []),
  ].join("\n");
}

describe("deterministic simulation of the coordinator", () => {
  it("native Ed25519 signs byte-for-byte as @noble/curves does", () => {
    const sk = new Uint8Array(32).fill(9);
    const msg = new TextEncoder().encode("2pm simulation");
    expect(native.sign(sk, msg)).toEqual(ed25519.sign(msg, sk));
    expect(native.verify(ed25519.getPublicKey(sk), msg, ed25519.sign(msg, sk))).toBe(true);
    expect(native.verify(ed25519.getPublicKey(sk), msg, new Uint8Array(64))).toBe(false);
  });

  if (one !== undefined) {
    it(`replays seed ${one}`, async () => {
      const r = await simulate(Number(one), { everyStepLog: true, traceLines: 400 });
      console.log(`seed ${r.seed}: ${r.status} after ${r.events} events, ${r.attempts} attempt(s), faulty: ${r.faulty.join(", ") || "none"}`);
      if (r.problems.length) console.log(describeFailure(r));
      expect(r.problems).toEqual([]);
    });
    return;
  }

  it(`holds every invariant over ${count} seeded schedules`, async () => {
    const t0 = performance.now();
    const endings = new Map<string, number>();
    const totals = { events: 0, attempts: 0, jobCrashes: 0, roundCrashes: 0, faults: 0, withFaultyNodes: 0 };
    const failures: string[] = [];
    const aborts = new Map<string, number>();
    const errors = new Map<string, number>();
    for (let seed = from; seed < from + count; seed++) {
      // The first schedules also check the whole log after every event; the rest at the end (the log is append-only).
      const r = await simulate(seed, { everyStepLog: seed < from + 200 });
      if (r.problems.length) {
        const again = await simulate(seed, { everyStepLog: true, traceLines: 60 });
        failures.push(describeFailure(again));
        if (failures.length >= 3) break;
        continue;
      }
      endings.set(r.status, (endings.get(r.status) ?? 0) + 1);
      totals.events += r.events;
      totals.attempts += r.attempts;
      totals.jobCrashes += r.jobCrashes;
      totals.roundCrashes += r.roundCrashes;
      totals.faults += r.faults;
      if (r.faulty.length) totals.withFaultyNodes++;
      for (const a of r.aborts) aborts.set(a, (aborts.get(a) ?? 0) + 1);
      if (r.error) errors.set(r.error, (errors.get(r.error) ?? 0) + 1);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `simulation: ${count} schedules (seeds ${from}..${from + count - 1}) in ${secs.toFixed(1)} s, load average ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}\n` +
      `  endings ${JSON.stringify(Object.fromEntries(endings))}; ${totals.events} events, ${totals.attempts} round attempts, ` +
      `${totals.faults} injected JobDO faults, ${totals.jobCrashes} JobDO restarts, ${totals.roundCrashes} RoundDO resets, ${totals.withFaultyNodes} schedules with faulty nodes\n` +
      `  aborts ${JSON.stringify(Object.fromEntries([...aborts].sort()))}\n  job errors ${JSON.stringify(Object.fromEntries([...errors].sort()))}`,
    );
    expect(failures, failures.join("\n\n")).toEqual([]);
    if (count >= 1000) {
      expect([...endings.keys()]).toEqual(expect.arrayContaining(["completed", "failed", "cancelled"]));
      expect(totals.jobCrashes).toBeGreaterThan(0);
      expect(totals.roundCrashes).toBeGreaterThan(0);
    }
  });

  // The simulation's power: each of these bugs, switched on, is found within a few hundred seeds.
  const BUGS: SimBug[] = ["drop-outbox", "forget-released", "no-alarm-recovery", "blame-all-on-timeout"];
  for (const bug of BUGS) {
    it.skipIf(count < 1000)(`finds the bug "${bug}"`, async () => {
      let found: SimReport | null = null;
      for (let seed = 0; seed < 3000 && !found; seed++) {
        const r = await simulate(seed, { bug });
        if (r.problems.length && (await simulate(seed)).problems.length === 0) found = r; // the bug, not the seed
      }
      expect(found, `bug ${bug} not found in 3000 seeds`).not.toBeNull();
      console.log(`bug ${bug}: found at seed ${found!.seed}: ${found!.problems[0]}`);
    });
  }
});
