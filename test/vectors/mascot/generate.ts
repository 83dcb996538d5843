/**
 * Known-answer vectors for the MASCOT building blocks: field, PRG, COPE (over 2^w-ary digits of Δ, digit-cope.ts) — every intermediate value, from seeded rngs. Regenerate with
 *   npx tsx test/vectors/mascot/generate.ts
 * test/unit/mascot-offline/vectors.test.ts recomputes them and compares byte for byte.
 */
import { m61, p128, type Field } from "../../../protocol/field/index.ts";
import { encodeFixed } from "../../../protocol/field/fixed-point.ts";
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";
import { prgBytesSync, prgFieldSync } from "../../../protocol/mascot/prg.ts";
import { mrrReceive, mrrSenderFinish, mrrSenderStart } from "../../../protocol/mascot/base-ot-mrr.ts";
import {
  deltaBits, DIGIT_COPE_WIDTH, digitCopeReceiverExtend, digitCopeReceiverFromOts, digitCopeSenderExtend, digitCopeSenderFromOts,
} from "../../../protocol/mascot/digit-cope.ts";
import { commit } from "../../../protocol/crypto/commitment.ts";

const s = (xs: bigint[]) => xs.map((x) => x.toString());

function fieldVectors(F: Field) {
  const rng = seededRng(`vectors/field/${F.name}`);
  const a = F.random(6, rng), b = F.random(6, rng);
  const edge = F.fromBigInts([0n, 1n, F.p - 1n, F.p / 2n, (1n << 32n) - 1n, 1n << 32n]);
  const A = F.concat([a, edge]), B = F.concat([b, F.fromBigInts([F.p - 1n, F.p - 1n, F.p - 1n, 2n, (1n << 32n) + 1n, 1n << 31n])]);
  const uniform = rng.bytes(F.uniformByteLength * 4);
  return {
    field: F.name, p: F.p.toString(),
    a: s(F.toBigInts(A)), b: s(F.toBigInts(B)),
    add: s(F.toBigInts(F.add(A, B))), sub: s(F.toBigInts(F.sub(A, B))), mul: s(F.toBigInts(F.mul(A, B))), neg: s(F.toBigInts(F.neg(A))),
    scale7: s(F.toBigInts(F.scale(A, 7n))), dot: F.dot(A, B).toString(), sum: F.sum(A).toString(),
    encodeA: toHex(F.encode(A)),
    uniformBytes: toHex(uniform), fromUniform: s(F.toBigInts(F.fromUniformBytes(uniform, 4))),
    fixed: { xs: [1.5, -2.25, 0.1, -1000, 1e9], fracBits: 16, bound: 1e6, encoded: s(F.toBigInts(encodeFixed(F, [1.5, -2.25, 0.1, -1000, 1e9], { fracBits: 16, bound: 1e6 }))) },
  };
}

function prgVectors() {
  const rng = seededRng("vectors/prg");
  return [16, 32].map((len) => {
    const seed = rng.bytes(len);
    return { seed: toHex(seed), bytes64: toHex(prgBytesSync(seed, 64)), m61x4: s(m61.toBigInts(prgFieldSync(m61, seed, 4))), p128x2: s(p128.toBigInts(prgFieldSync(p128, seed, 2))) };
  });
}

function commitVector() {
  const value = utf8("2pm");
  const { commitment, opening } = commit(value, seededRng("vectors/commit"));
  return { value: toHex(value), nonce: toHex(opening), commitment: toHex(commitment) };
}

/**
 * COPE (digit-cope.ts, width DIGIT_COPE_WIDTH) on k = field.bits base OTs (MRR21, base-ot-mrr.ts) whose
 * choice bits are Δ's bits: the GGM setup, two Extends (the second continues the leaf streams).
 */
function copeVector(F: Field) {
  const rng = seededRng(`vectors/cope/${F.name}`);
  const sid = utf8("vectors/cope/sid");
  const delta = F.get(F.random(1, rng), 0);
  const x = F.random(3, rng);
  const bits = deltaBits(F, delta);
  const st = mrrSenderStart(sid, rng);
  const rcv = mrrReceive(sid, bits, st.message, rng, 0);
  const { k0, k1 } = mrrSenderFinish(st.state, rcv.message, F.bits, 1);
  const snd = digitCopeSenderFromOts(F, DIGIT_COPE_WIDTH, k0, k1);
  const r = digitCopeReceiverFromOts(F, DIGIT_COPE_WIDTH, delta, rcv.keys, snd.setup, 1);
  const e1 = digitCopeSenderExtend(snd.state, x);
  const q1 = digitCopeReceiverExtend(r, x.length, e1.message, 0);
  const e2 = digitCopeSenderExtend(snd.state, x);
  const q2 = digitCopeReceiverExtend(r, x.length, e2.message, 0);
  return {
    field: F.name, delta: delta.toString(), deltaBits: [...bits], x: s(F.toBigInts(x)),
    width: DIGIT_COPE_WIDTH, digits: r.digits.map((d) => [d.offset, d.width]), digitValues: [...r.values],
    baseOtA: toHex(st.message), baseOtB: toHex(rcv.message), setup: toHex(snd.setup),
    extend1: { u: toHex(e1.message), t: s(F.toBigInts(e1.t)), q: s(F.toBigInts(q1)) },
    extend2: { u: toHex(e2.message), t: s(F.toBigInts(e2.t)), q: s(F.toBigInts(q2)) },
    check: "q + t = delta * x (mod p) for each extend; u = the digit corrections c_i (digit-major); extend2 continues the leaf streams",
  };
}

/** Every vector file: name → content. */
export function buildVectors(): Record<string, unknown> {
  return {
    "field.json": { m61: fieldVectors(m61), p128: fieldVectors(p128) },
    "prg.json": { prg: prgVectors(), commit: commitVector() },
    "cope.json": { m61: copeVector(m61), p128: copeVector(p128) },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { writeFileSync } = await import("node:fs");
  const path = await import("node:path");
  for (const [name, v] of Object.entries(buildVectors())) {
    writeFileSync(path.join(import.meta.dirname, name), JSON.stringify(v, null, 2) + "\n");
    console.log(`wrote ${name}`);
  }
}
