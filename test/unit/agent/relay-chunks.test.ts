import { describe, expect, it } from "vitest";
import { chunkPayload, Reassembler } from "../../../client/agent/relay-session.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("relay chunking", () => {
  it("sends small payloads unchanged and round-trips large ones", () => {
    const rng = seededRng("chunks");
    for (const len of [0, 1, 4096, 4097, 10_000]) {
      const payload = rng.bytes(len);
      const chunks = chunkPayload("p", payload, 4096);
      expect(chunks.length).toBe(len <= 4096 ? 1 : Math.ceil(len / 4096));
      if (len <= 4096) expect(chunks[0]).toEqual({ phase: "p", payload });
      const r = new Reassembler();
      let out: { phase: string; payload: Uint8Array } | undefined;
      chunks.forEach((c, i) => {
        out = r.push(3, c.phase, c.payload);
        if (i < chunks.length - 1) expect(out).toBeUndefined();
      });
      expect(out).toEqual({ phase: "p", payload });
    }
  });

  it("refuses out-of-order, duplicated, interleaved and cross-phase chunks", () => {
    const chunks = chunkPayload("p", new Uint8Array(10_000), 4096);
    expect(() => new Reassembler().push(0, chunks[1]!.phase, chunks[1]!.payload)).toThrow(/out of order/);
    const r = new Reassembler();
    r.push(0, chunks[0]!.phase, chunks[0]!.payload);
    expect(() => r.push(0, chunks[0]!.phase, chunks[0]!.payload)).toThrow(/out of order/);
    const r2 = new Reassembler();
    r2.push(0, chunks[0]!.phase, chunks[0]!.payload);
    expect(() => r2.push(0, "q#1/3", chunks[1]!.payload)).toThrow(/out of order/);
    const r3 = new Reassembler();
    r3.push(0, chunks[0]!.phase, chunks[0]!.payload);
    expect(() => r3.push(0, "other", new Uint8Array(1))).toThrow(/interrupts/);
    expect(() => chunkPayload("p#0/2", new Uint8Array(1))).toThrow(RangeError);
  });

  it("keeps senders apart", () => {
    const a = chunkPayload("p", new Uint8Array(9000).fill(1), 4096);
    const b = chunkPayload("p", new Uint8Array(5000).fill(2), 4096);
    const r = new Reassembler();
    r.push(0, a[0]!.phase, a[0]!.payload); r.push(1, b[0]!.phase, b[0]!.payload); r.push(0, a[1]!.phase, a[1]!.payload);
    expect(r.push(1, b[1]!.phase, b[1]!.payload)?.payload).toEqual(new Uint8Array(5000).fill(2));
    expect(r.push(0, a[2]!.phase, a[2]!.payload)?.payload).toEqual(new Uint8Array(9000).fill(1));
  });
});
