/**
 * The shared step driver (protocol/mascot/step-driver.ts) on its own: sequence checks, buffering
 * of later steps, replay window, async steps; and offline.ts's batch records used once.
 */
import { describe, expect, it } from "vitest";
import { m61 } from "../../../protocol/field/index.ts";
import { ProtocolAbort } from "../../../protocol/mascot/errors.ts";
import { OfflineParty, type OfflineInbound } from "../../../protocol/mascot/offline.ts";
import { StepDriver } from "../../../protocol/mascot/step-driver.ts";
import type { Inbox, OutboundMessage, Step } from "../../../protocol/mascot/types.ts";
import { utf8 } from "../../../protocol/encoding.ts";
import { seededRng } from "../../../protocol/rng.ts";

const B = (x: number) => Uint8Array.of(x);
function code(f: () => unknown): string {
  try { f(); return "no-throw"; } catch (e) { return e instanceof ProtocolAbort ? `${e.code}:${e.culprits.join(",")}` : `other:${(e as Error).message}`; }
}

/** Three parties, me = 0; steps a (phases a1, a2), empty step s, b (phase b); every run logs its inbox. */
function make(opts: ConstructorParameters<typeof StepDriver>[3] = {}) {
  const log: string[] = [];
  const step = (name: string, expect: string[], extra: Partial<Step> = {}): Step => ({
    name, expect, ...extra,
    run: (box: Inbox): OutboundMessage[] => {
      log.push(`${name}:${expect.map((p) => box.get(p)!.map((x) => x?.[0] ?? "-").join("")).join("|")}`);
      return [{ to: "all", phase: `${name}.out`, payload: B(0) }];
    },
  });
  const steps = [step("a", ["a1", "a2"]), step("s", []), step("b", ["b"])];
  return { d: new StepDriver(3, 0, steps, opts), log, steps };
}
const drain = (d: StepDriver) => { const out: OutboundMessage[] = []; while (d.ready) out.push(...d.run()); return out; };

describe("StepDriver", () => {
  it("runs steps in order once all their messages are in; buffers a faster peer's later step; an empty step runs at once", () => {
    const { d, log } = make();
    expect(d.waitingFor()).toEqual([1, 2]);
    expect(d.accept(1, "a1", B(1))).toBe(0);
    expect(d.accept(1, "a2", B(2))).toBe(0);
    expect(d.accept(1, "b", B(3))).toBe(2); // buffered: step b is later
    expect(d.ready).toBe(false);
    expect(d.waitingFor()).toEqual([2]);
    d.accept(2, "a1", B(4));
    expect(d.ready).toBe(false);
    d.accept(2, "a2", B(5));
    expect(drain(d).map((o) => o.phase)).toEqual(["a.out", "s.out"]);
    expect(log).toEqual(["a:-14|-25", "s:"]);
    expect(d.current?.name).toBe("b");
    d.accept(2, "b", B(6));
    drain(d);
    expect(log[2]).toBe("b:-36");
    expect(d.current).toBeUndefined();
    expect(d.waitingFor()).toEqual([]);
  });

  it("a phase out of sequence aborts naming the sender; nothing is expected after the end; run() of an unready step is a bug", () => {
    const { d } = make();
    expect(code(() => d.accept(2, "a2", B(0)))).toBe("unexpected-message:2");
    expect(code(() => d.accept(1, "b", B(0)))).toBe("unexpected-message:1");
    expect(code(() => d.run())).toMatch(/^other:StepDriver\.run/);
    const e = make().d;
    for (const j of [1, 2]) for (const p of ["a1", "a2", "b"]) e.accept(j, p, B(j));
    drain(e);
    expect(code(() => e.accept(1, "b", B(0)))).toBe("unexpected-message:1");
  });

  it("a repeated phase: unexpected-message by default; replay inside the window the caller names, stale before it", () => {
    const dflt = make().d;
    dflt.accept(1, "a1", B(0));
    expect(code(() => dflt.accept(1, "a1", B(0)))).toBe("unexpected-message:1");
    let from = 0;
    const { d } = make({ replaysFrom: () => from });
    d.accept(1, "a1", B(0));
    expect(code(() => d.accept(1, "a1", B(0)))).toBe("replay:1");
    from = 1; // the block of step a is over: its phases are stale
    expect(code(() => d.accept(1, "a1", B(0)))).toBe("unexpected-message:1");
    expect(code(() => d.accept(1, "zz", B(0)))).toBe("unexpected-message:1");
  });

  it("eager hooks keep what they return; runAsync uses a step's async variant", async () => {
    let asyncRuns = 0;
    const steps: Step[] = [{
      name: "x", expect: ["x"],
      eager: (_ph, from, p) => B(p[0]! + 10 * from),
      run: () => { throw new Error("sync path taken"); },
      runAsync: async (box) => { asyncRuns++; return [{ to: 0, phase: "y", payload: box.get("x")![1]! }]; },
    }];
    const d = new StepDriver(2, 0, steps);
    d.accept(1, "x", B(1));
    const out = await d.runAsync();
    expect(asyncRuns).toBe(1);
    expect(out[0]!.payload).toEqual(B(11));
  });
});

describe("offline.ts batch records are used once", () => {
  it("a step takes only the record of its own stage, and only once", () => {
    const ps = [0, 1].map((me) => new OfflineParty({ field: m61, parties: 2, me, sessionId: utf8("once"), count: 2 }, seededRng(`once/${me}`)));
    const queue: Array<{ to: number; m: OfflineInbound }> = [];
    const seq = [[0, 0], [0, 0]];
    const post = (from: number, outs: OutboundMessage[]) => { for (const o of outs) { const to = 1 - from; queue.push({ to, m: { from, phase: o.phase, seq: seq[from]![to]!++, payload: o.payload } }); } };
    ps.forEach((p, i) => post(i, p.start()));
    while (ps[1]!.phase !== "0.kos") { const { to, m } = queue.shift()!; post(to, ps[to]!.receive(m)); }
    const take = (stage: string) => code(() => (ps[1] as unknown as { take(s: string): unknown }).take(stage));
    expect(take("gilboa")).toMatch(/found the batch at kos/);
    expect(take("kos")).toBe("no-throw");
    expect(take("kos")).toMatch(/found the batch at no batch/);
  });
});
