import { describe, expect, it } from "vitest";
import { BaseOtCache, baseOtCacheOptionsFromEnv } from "../../../client/agent/base-ot-cache.ts";
import type { KosSenderBase } from "../../../protocol/mascot/ot-extension.ts";

describe("base-OT cache: the operator's reuse limit", () => {
  it("reads TWOPM_BASE_OT_MAX_USES and refuses anything but a non-negative integer", () => {
    expect(baseOtCacheOptionsFromEnv({})).toEqual({});
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "" })).toEqual({});
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "0" })).toEqual({ maxUses: 0 });
    expect(baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: "25" })).toEqual({ maxUses: 25 });
    for (const bad of ["-1", "1.5", "many", " 3", "1e3"]) expect(() => baseOtCacheOptionsFromEnv({ TWOPM_BASE_OT_MAX_USES: bad })).toThrow(/TWOPM_BASE_OT_MAX_USES/);
  });

  it("maxUses 0 keeps nothing for a later session; the default reuses a kept base; maxUses bounds the reuses", () => {
    const base = { delta: new Uint8Array(16), keys: new Uint8Array(16 * 128) } as unknown as KosSenderBase;
    const committee = ["a", "b"];
    const never = new BaseOtCache({ maxUses: 0 });
    never.forSession(committee).saveSender(1, base);
    expect(never.forSession(committee).sender(1)).toBeUndefined();
    const kept = new BaseOtCache();
    kept.forSession(committee).saveSender(1, base);
    expect(kept.forSession(committee).sender(1)).toBe(base);
    const twice = new BaseOtCache({ maxUses: 2 });
    twice.forSession(committee).saveSender(1, base);
    expect(twice.forSession(committee).sender(1)).toBe(base);
    expect(twice.forSession(committee).sender(1)).toBe(base);
    expect(twice.forSession(committee).sender(1)).toBeUndefined();
  });
});
