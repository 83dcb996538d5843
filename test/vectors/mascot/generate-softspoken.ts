/**
 * Known-answer vector for SoftSpokenOT (protocol/mascot/softspoken.ts), k = 2 and k = 3 (a
 * short last block), with every intermediate value: the base OTs (from a seeded in-process
 * MRR21 run, baseOtPairInProcess), the GGM roots, leaf PRG seeds and check values, τ_i, the PPRF hash, the
 * setup message, Δ and the punctured points, the choices, the padded rows t_j = V_j (R) and
 * q_j = W_j (S), the first χ, the extend message (corrections ‖ x̃ ‖ t̃) and the outputs.
 * Regenerate with `npx tsx test/vectors/mascot/generate-softspoken.ts`;
 * test/unit/mascot-offline/vectors.test.ts recomputes it byte for byte.
 */
import { seededRng } from "../../../protocol/rng.ts";
import { toHex, utf8 } from "../../../protocol/encoding.ts";
import { baseOtPairInProcess } from "../../../protocol/mascot/ot-extension.ts";
import { ssReceiverExtend, ssReceiverSetup, ssSenderExtend, ssSenderSetup, type SsExtendTrace, type SsSetupTrace } from "../../../protocol/mascot/softspoken.ts";

const hexWords = (w: Uint32Array) => toHex(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));

function softspokenVector(k: number) {
  const rng = seededRng(`vectors/softspoken/k${k}`);
  const sid = utf8(`vectors/softspoken/sid/k${k}`);
  const bases = baseOtPairInProcess(sid, rng);
  const trace: SsSetupTrace = { roots: [], leafSeeds: [], leafChecks: [], pprfHash: new Uint8Array(0) };
  const R = ssReceiverSetup(sid, bases.receiver, k, rng, trace);
  const S = ssSenderSetup(sid, bases.sender, k, R.message, 1);
  const x = new Uint8Array([1, 0, 1, 1, 0, 0, 1, 0]);
  const tr: SsExtendTrace = {}, ts: SsExtendTrace = {};
  const ext = ssReceiverExtend(R.state, x, rng, 1, tr);
  const { v0, v1 } = ssSenderExtend(S, x.length, ext.message, 1, 1, ts);
  return {
    k, sid: toHex(sid),
    rng: `seededRng("vectors/softspoken/k${k}"): MRR21 base OTs (baseOtPairInProcess), then R's GGM roots (16 bytes per block), then R's padding bits`,
    baseK0: toHex(bases.receiver.k0), baseK1: toHex(bases.receiver.k1), delta: hexWords(bases.sender.delta), senderKeys: toHex(bases.sender.keys),
    blockSizes: S.sizes, points: S.points,
    roots: trace.roots.map(toHex),
    leafSeeds: trace.leafSeeds.map((b) => b.map(toHex)),
    leafChecks: trace.leafChecks.map((b) => b.map(toHex)),
    pprfHash: toHex(trace.pprfHash),
    setupMessage: toHex(R.message),
    choices: [...x],
    rowsT: hexWords(tr.rows!), rowsQ: hexWords(ts.rows!), chi0: hexWords(tr.chi0!),
    extendMessage: toHex(ext.message), receiverOutputs: toHex(ext.outputs), v0: toHex(v0), v1: toHex(v1),
    check: "q_j = t_j ⊕ x'_j·Δ for every row j (x' = choices ‖ padding); outputs = (choice ? v1 : v0); τ_i = ⊕ leafChecks[i] (setupMessage after 32·128 bytes); pprfHash = SHA-256(\"2pm/softspoken/pprf/v1\" ‖ sid ‖ all leafChecks)",
  };
}

/** name → content. */
export function buildSoftspokenVectors(): Record<string, unknown> {
  return { "softspoken.json": { k2: softspokenVector(2), k3: softspokenVector(3) } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { writeFileSync } = await import("node:fs");
  const path = await import("node:path");
  for (const [name, v] of Object.entries(buildSoftspokenVectors())) {
    writeFileSync(path.join(import.meta.dirname, name), JSON.stringify(v, null, 2) + "\n");
    console.log(`wrote ${name}`);
  }
}
