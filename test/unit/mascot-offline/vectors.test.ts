import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildVectors } from "../../vectors/mascot/generate.ts";
import { buildSoftspokenVectors } from "../../vectors/mascot/generate-softspoken.ts";
import { sha256 } from "@noble/hashes/sha2.js";
import { concatBytes, toHex, utf8 } from "../../../protocol/encoding.ts";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { fromHex } from "../../../protocol/encoding.ts";

const dir = path.join(import.meta.dirname, "../../vectors/mascot");
const built = { ...buildVectors(), ...buildSoftspokenVectors() };

describe("known-answer vectors (test/vectors/mascot)", () => {
  for (const [name, v] of Object.entries(built)) {
    it(`${name} recomputes exactly`, () => {
      expect(JSON.parse(readFileSync(path.join(dir, name), "utf8"))).toEqual(JSON.parse(JSON.stringify(v)));
    });
  }
  it("vectors are internally consistent (independent checks)", () => {
    const f = JSON.parse(readFileSync(path.join(dir, "field.json"), "utf8"));
    for (const [F, fv] of [[m61, f.m61], [p128, f.p128]] as const) {
      const P = F.p;
      fv.a.forEach((a: string, i: number) => {
        const x = BigInt(a), y = BigInt(fv.b[i]);
        expect(BigInt(fv.mul[i])).toBe((x * y) % P);
        expect(BigInt(fv.add[i])).toBe((x + y) % P);
      });
    }
    const c = JSON.parse(readFileSync(path.join(dir, "cope.json"), "utf8"));
    for (const [F, cv] of [[m61, c.m61], [p128, c.p128]] as const) {
      for (const e of [cv.extend1, cv.extend2]) {
        cv.x.forEach((x: string, i: number) => expect((BigInt(e.q[i]) + BigInt(e.t[i])) % F.p).toBe((BigInt(cv.delta) * BigInt(x)) % F.p));
      }
    }
  });
  it("softspoken.json is internally consistent (independent checks)", () => {
    const all = JSON.parse(readFileSync(path.join(dir, "softspoken.json"), "utf8"));
    for (const v of [all.k2, all.k3]) {
      const delta = fromHex(v.delta), T = fromHex(v.rowsT), Q = fromHex(v.rowsQ);
      expect(T.length).toBe(Q.length);
      for (let j = 0; j < T.length / 16; j++) {
        const d = [...Array(16).keys()].map((b) => T[16 * j + b]! ^ Q[16 * j + b]!);
        const isDelta = d.every((x, b) => x === delta[b]), isZero = d.every((x) => x === 0);
        expect(isDelta || isZero).toBe(true); // q_j = t_j ⊕ x'_j·Δ
        if (j < v.choices.length) expect(isDelta).toBe(v.choices[j] === 1);
      }
      v.choices.forEach((ch: number, i: number) => expect(v.receiverOutputs.slice(32 * i, 32 * i + 32)).toBe((ch ? v.v1 : v.v0).slice(32 * i, 32 * i + 32)));
      const setup = fromHex(v.setupMessage);
      v.leafChecks.forEach((cs: string[], i: number) => {
        const tau = new Uint8Array(32);
        for (const c of cs) fromHex(c).forEach((b, q) => { tau[q]! ^= b; });
        expect(toHex(setup.subarray(32 * 128 + 32 * i, 32 * 128 + 32 * i + 32))).toBe(toHex(tau));
        expect(cs.length).toBe(1 << v.blockSizes[i]);
      });
      const h = sha256(concatBytes(utf8("2pm/softspoken/pprf/v1"), fromHex(v.sid), ...v.leafChecks.flat().map((c: string) => fromHex(c))));
      expect(toHex(h)).toBe(v.pprfHash);
      expect(v.setupMessage.slice(-64)).toBe(v.pprfHash);
      // Δ_i = the base choice bits of block i (little-endian within the block)
      let off = 0;
      v.blockSizes.forEach((kb: number, i: number) => {
        let p = 0;
        for (let b = 0; b < kb; b++) p |= ((delta[(off + b) >> 3]! >> ((off + b) & 7)) & 1) << b;
        expect(v.points[i]).toBe(p);
        off += kb;
      });
    }
  });
});
