import { describe, expect, it } from "vitest";
import { chunkPayload, Reassembler } from "../../../client/agent/relay-session.ts";
import { seededRng } from "../../../protocol/rng.ts";

describe("relay chunking", () => {
  it("round-trips payloads of every size class", () => {
    const rng = seededRng("chunks");
    for (const len of [0, 1, 1000, 4096, 4097, 10_000]) {
      const payload = rng.bytes(len);
      const chunks = chunkPayload(payload, 4096);
      expect(chunks.length).toBe(Math.max(1, Math.ceil(len / 4096)));
      const r = new Reassembler();
      let out: Uint8Array | undefined;
      chunks.forEach((c, i) => {
        out = r.push(3, "p", c);
        if (i < chunks.length - 1) expect(out).toBeUndefined();
      });
      expect(out).toEqual(payload);
    }
  });

  it("refuses out-of-order, duplicated and cross-phase chunks", () => {
    const chunks = chunkPayload(new Uint8Array(10_000), 4096);
    expect(() => new Reassembler().push(0, "p", chunks[1]!)).toThrow(RangeError);
    const r = new Reassembler();
    r.push(0, "p", chunks[0]!);
    expect(() => r.push(0, "p", chunks[0]!)).toThrow(/out of order/);
    const r2 = new Reassembler();
    r2.push(0, "p", chunks[0]!);
    expect(() => r2.push(0, "q", chunks[1]!)).toThrow(/out of order/);
    expect(() => new Reassembler().push(0, "p", new Uint8Array(3))).toThrow(/too short/);
  });

  it("keeps senders apart", () => {
    const a = chunkPayload(new Uint8Array(9000).fill(1), 4096);
    const b = chunkPayload(new Uint8Array(5000).fill(2), 4096);
    const r = new Reassembler();
    r.push(0, "p", a[0]!); r.push(1, "p", b[0]!); r.push(0, "p", a[1]!);
    expect(r.push(1, "p", b[1]!)).toEqual(new Uint8Array(5000).fill(2));
    expect(r.push(0, "p", a[2]!)).toEqual(new Uint8Array(9000).fill(1));
  });
});
