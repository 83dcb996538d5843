import { describe, expect, it } from "vitest";
import { BaseOtCache, baseOtCacheOptionsFromEnv } from "../../../client/agent/base-ot-cache.ts";
import type { KeptSender } from "../../../protocol/mascot/offline.ts";

describe("base-OT cache: the operator's reuse limit", () => {
  it("reads TWOPM_BASE_OT_MAX_USES and refuses anything but a non-negative integer", () => {
    expect(baseOtCacheOptionsFromEnv({})).toEqual({});
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "" })).toEqual({});
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "0" })).toEqual({ maxUses: 0 });
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "25" })).toEqual({ maxUses: 25 });
    for (const bad of ["-1", "1.5", "many", " 3", "1e3"]) expect(() => baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: bad })).toThrow(/TWOPM_BASE_OT_MAX_USES/);
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_PREPARE_DELAY_MS: "0", TWOPM_BASE_OT_MAX_USES: "3" })).toEqual({ maxUses: 3, prepareDelayMs: 0 });
    for (const bad of ["-5", "soon", "2.5"]) expect(() => baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_PREPARE_DELAY_MS: bad })).toThrow(/TWOPM_BASE_OT_PREPARE_DELAY_MS/);
  });

  /** A stand-in kept state: the cache never looks inside it, only at its identity. */
  const kept = (): KeptSender => ({ tag: new Uint8Array(32).fill(1), baseTag: new Uint8Array(32), state: {} as KeptSender["state"] });

  it("a session takes a state out (no second session gets it until it is saved back); maxUses 0 keeps nothing; maxUses bounds the reuses", () => {
    const committee = ["a", "b"];
    const never = new BaseOtCache({ maxUses: 0 });
    never.forSession(committee).saveSender(1, kept());
    expect(never.forSession(committee).sender(1)).toBeUndefined();
    const cache = new BaseOtCache();
    const k = kept();
    cache.forSession(committee).saveSender(1, k);
    expect(cache.forSession(committee).sender(1)).toBe(k);
    expect(cache.forSession(committee).sender(1)).toBeUndefined(); // taken by the first session
    expect(cache.size).toBe(0);
    const twice = new BaseOtCache({ maxUses: 2 });
    const t = kept();
    twice.forSession(committee).saveSender(1, t);
    for (let use = 0; use < 2; use++) {
      const s = twice.forSession(committee);
      expect(s.sender(1)).toBe(t);
      s.saveSender(1, t); // the session finished cleanly and hands it back
    }
    expect(twice.forSession(committee).sender(1)).toBeUndefined(); // used twice
  });

  it("a state saved back keeps its age: it expires maxAgeMs after it was first saved, however often it was reused", () => {
    let now = 0;
    const cache = new BaseOtCache({ maxAgeMs: 100, now: () => now });
    const t = kept();
    cache.forSession(["me", "peer"]).saveSender(1, t);
    now = 60;
    const s = cache.forSession(["me", "peer"]);
    expect(s.sender(1)).toBe(t);
    s.saveSender(1, t);
    now = 101;
    expect(cache.forSession(["me", "peer"]).sender(1)).toBeUndefined();
  });

  it("forgets a peer on request, by node id, whatever its party index", () => {
    const cache = new BaseOtCache();
    cache.forSession(["me", "peer"]).saveSender(1, kept());
    cache.forSession(["peer", "me"]).saveReceiver(0, { ...kept(), state: {} as never });
    expect(cache.size).toBe(1);
    cache.forget(["peer"]);
    expect(cache.size).toBe(0);
    expect(cache.forSession(["me", "peer"]).sender(1)).toBeUndefined();
    expect(cache.forSession(["me", "peer"]).receiver(1)).toBeUndefined();
  });

  it("prepares receiver halves up to its target while idle, stops when idle() turns false, runs once at a time, and hands each half out once", async () => {
    const cache = new BaseOtCache({ preparedTarget: 96 });
    let chunks = 0;
    expect(await cache.prepare(() => chunks++ < 1, 32)).toBe(32); // stopped after one chunk
    const [a, b] = await Promise.all([cache.prepare(() => true, 32), cache.prepare(() => true, 32)]);
    expect([a, b].sort()).toEqual([32, 96]); // the second call returned at once
    const store = cache.forSession(["x", "y"]);
    expect(store.prepared!(128)).toBeUndefined(); // fewer than asked: none taken
    const got = store.prepared!(64)!;
    expect(got).toHaveLength(64);
    expect(cache.prepared).toBe(32);
    const rest = store.prepared!(32)!;
    expect(new Set([...got, ...rest].map((p) => p.y.join())).size).toBe(96);
    expect(cache.prepared).toBe(0);
    expect(await new BaseOtCache({ preparedTarget: 0 }).prepare()).toBe(0);
  });

  it("prepares only after the node was idle for the delay, and not at all if it stopped being idle meanwhile", async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const idle = new BaseOtCache({ preparedTarget: 32, prepareDelayMs: 150 });
    idle.prepareAfterIdle(() => true);
    await sleep(50);
    expect(idle.prepared).toBe(0); // still inside the delay
    for (let i = 0; i < 100 && idle.prepared < 32; i++) await sleep(20);
    expect(idle.prepared).toBe(32);
    const busy = new BaseOtCache({ preparedTarget: 32, prepareDelayMs: 50 });
    let assigned = false;
    busy.prepareAfterIdle(() => !assigned);
    assigned = true; // an assignment arrived within the delay
    await sleep(200);
    expect(busy.prepared).toBe(0);
  });
});
