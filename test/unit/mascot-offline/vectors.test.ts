import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import path from "node:path";
import { buildVectors } from "../../vectors/mascot/generate.ts";
import { m61, p128 } from "../../../protocol/field/index.ts";
import { fromHex } from "../../../protocol/encoding.ts";
import { ristretto255 } from "@noble/curves/ed25519.js";

const dir = path.join(import.meta.dirname, "../../vectors/mascot");
const built = buildVectors();

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
    const b = JSON.parse(readFileSync(path.join(dir, "base-ot.json"), "utf8"));
    expect(ristretto255.Point.BASE.multiply(BigInt(b.senderScalar)).toHex()).toBe(b.A);
    b.choices.forEach((ch: number, i: number) => expect(b.kc.slice(32 * i, 32 * i + 32)).toBe((ch ? b.k1 : b.k0).slice(32 * i, 32 * i + 32)));
    const k = JSON.parse(readFileSync(path.join(dir, "kos.json"), "utf8"));
    k.choices.forEach((ch: number, i: number) => expect(k.receiverOutputs.slice(32 * i, 32 * i + 32)).toBe((ch ? k.v1 : k.v0).slice(32 * i, 32 * i + 32)));
    expect(fromHex(k.delta).length).toBe(16);
  });
});
