/**
 * Known-answer vector for the offline setup's base OT (protocol/mascot/base-ot-mrr.ts,
 * McQuoid–Rosulek–Roy POPF-OT on X25519 and its twist), 16 OTs from a seeded rng, with every
 * intermediate value recomputed here from the specification in the file header (noble's
 * X25519, the affine Montgomery formulas, the two hashes) and checked against the protocol
 * functions' output before it is written: the sender's a and A_0 ‖ A_1; per OT the receiver's
 * draws (b, s, z, k, r), P = X(b, G_z), its even-v lift, the torsion point k·T_z, y, t, s',
 * K; the sender's Y_0, Y_1, K_0, K_1 and the keys k_0, k_1.
 * Regenerate with `npx tsx test/vectors/mascot/generate-base-ot-mrr.ts`;
 * test/unit/mascot-offline/base-ot-mrr.test.ts recomputes it byte for byte on every backend.
 */
import { seededRng } from "../../../protocol/rng.ts";
import { concatBytes, toHex, utf8 } from "../../../protocol/encoding.ts";
import { uFromBytes, uToBytes, x25519Sync } from "../../../protocol/crypto/x25519.ts";
import {
  liftEven, montAdd, MRR_GENERATORS, mrrKeyHash, mrrPopfHash, mrrReceive, mrrSenderFinish, mrrSenderStart, torsionTable,
} from "../../../protocol/mascot/base-ot-mrr.ts";

const SEED = "vectors/base-ot-mrr";
const CHOICES = [0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

function must<T>(x: T | null | undefined, what: string): T {
  if (x === null || x === undefined) throw new Error(`generate-base-ot-mrr: ${what}`);
  return x;
}

export function baseOtMrrVector() {
  const sid = utf8(`${SEED}/sid`);
  const choices = Uint8Array.from(CHOICES);
  // The protocol, as the offline setup runs it (one rng: the sender's a, then the receiver's draws).
  const rng = seededRng(SEED);
  const snd = mrrSenderStart(sid, rng);
  const rcv = mrrReceive(sid, choices, snd.message, rng, 0);
  const { k0, k1 } = mrrSenderFinish(snd.state, rcv.message, choices.length, 1);

  // The same from the specification.
  const re = seededRng(SEED);
  const a = re.bytes(32);
  const A0 = must(x25519Sync(a, MRR_GENERATORS[0]), "A_0"), A1 = must(x25519Sync(a, MRR_GENERATORS[1]), "A_1");
  const A = concatBytes(A0, A1);
  const ots = CHOICES.map((c, i) => {
    const b = re.bytes(32), s = re.bytes(32), flags = re.bytes(1)[0]!;
    const z = (flags & 1) as 0 | 1, k = (flags >> 1) & (z === 0 ? 7 : 3), r = flags >> 7;
    const P = must(x25519Sync(b, MRR_GENERATORS[z]), "P");
    const lifted = must(liftEven(z === 0 ? 1n : 2n, uFromBytes(P)), "lift");
    const T = torsionTable(z)[k]!;
    const Q = must(montAdd(z === 0 ? 1n : 2n, lifted, T), "Q");
    const y = uToBytes(Q.u);
    y[31]! |= r << 7;
    const t = xor(y, mrrPopfHash(sid, i, c, s));
    const s1 = c === 1 ? xor(s, t) : s.slice();
    const phi = concatBytes(t, s1);
    const K = must(x25519Sync(b, z === 0 ? A0 : A1), "K");
    const Y = [0, 1].map((x) => xor(t, mrrPopfHash(sid, i, x, x === 1 ? xor(s1, t) : s1)));
    const Ks = Y.map((Yx) => must(x25519Sync(a, Yx), "K_x"));
    const keys = Ks.map((Kx, x) => mrrKeyHash(sid, i, x, A, phi, Kx));
    const kc = mrrKeyHash(sid, i, c, A, phi, K);
    if (toHex(kc) !== toHex(keys[c]!)) throw new Error(`generate-base-ot-mrr: OT ${i}: receiver key ≠ sender key k_c`);
    if (toHex(phi) !== toHex(rcv.message.subarray(64 * i, 64 * i + 64))) throw new Error(`generate-base-ot-mrr: OT ${i}: φ differs from mrrReceive`);
    if (toHex(kc) !== toHex(rcv.keys.subarray(16 * i, 16 * i + 16))) throw new Error(`generate-base-ot-mrr: OT ${i}: key differs from mrrReceive`);
    if (toHex(keys[0]!) !== toHex(k0.subarray(16 * i, 16 * i + 16)) || toHex(keys[1]!) !== toHex(k1.subarray(16 * i, 16 * i + 16))) throw new Error(`generate-base-ot-mrr: OT ${i}: keys differ from mrrSenderFinish`);
    return {
      c, b: toHex(b), s: toHex(s), flags, z, k, r,
      P: toHex(P), Pv: lifted.v.toString(), torsion: T ? { u: T.u.toString(), v: T.v.toString() } : null,
      y: toHex(y), t: toHex(t), s1: toHex(s1), K: toHex(K),
      Y0: toHex(Y[0]!), Y1: toHex(Y[1]!), K0: toHex(Ks[0]!), K1: toHex(Ks[1]!), k0: toHex(keys[0]!), k1: toHex(keys[1]!),
    };
  });
  if (toHex(A) !== toHex(snd.message)) throw new Error("generate-base-ot-mrr: A differs from mrrSenderStart");
  return {
    sid: toHex(sid),
    rng: `seededRng("${SEED}"): the sender's a (32 bytes), then per OT the receiver's b (32), s (32), flags (1: bit 0 = z, bits 1..3 = k mod h_z, bit 7 = r)`,
    choices: CHOICES,
    a: toHex(a), A: toHex(A),
    ots,
    receiverMessage: toHex(rcv.message), receiverKeys: toHex(rcv.keys), k0: toHex(k0), k1: toHex(k1),
    check: "y = u(P + k·T_z) with bit 255 = r; t = y ⊕ H_popf(sid, i, c, s); s1 = s ⊕ c·t; K = X(b, A_z) = X(a, y); key_x = H_key(sid, i, x, A, t ‖ s1, K_x)[0..16]; receiverKeys = key_c",
  };
}

/** name → content. */
export function buildBaseOtMrrVectors(): Record<string, unknown> {
  return { "base-ot-mrr.json": baseOtMrrVector() };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { writeFileSync } = await import("node:fs");
  const path = await import("node:path");
  for (const [name, v] of Object.entries(buildBaseOtMrrVectors())) {
    writeFileSync(path.join(import.meta.dirname, name), JSON.stringify(v, null, 2) + "\n");
    console.log(`wrote ${name}`);
  }
}
