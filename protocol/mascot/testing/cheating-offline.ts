/**
 * A cheating offline party for negative tests: OfflineParty (offline.ts) with its fault seams
 * overridden. Testing module: no production file may import it (test/unit/architecture.test.ts).
 */
import type { Field, FieldVec } from "../../field/types.ts";
import type { Rng } from "../../rng.ts";
import { OfflineParty, type KeptOtStore, type OfflineConfig } from "../offline.ts";
import type { SsReceiverState } from "../softspoken.ts";

/**
 * A SoftSpokenOT receiver using choice vector x ⊕ e in some blocks (e = bit `bit`): flips that
 * bit of the corrections c_i (as sent, before χ is drawn from them) of every block containing
 * one of `columns`. Caught by the consistency check (softspoken.ts) unless the cheater guesses
 * the sender's Δ bits of those blocks.
 */
export function flipChoiceBit(st: SsReceiverState, corrections: Uint8Array, columns: readonly number[], bit: number): void {
  const W = corrections.length / 4 / st.sizes.length;
  if (!Number.isInteger(W) || bit < 0 || bit >= 32 * W) throw new RangeError("flipChoiceBit: bit outside the corrections");
  st.sizes.forEach((kb, i) => {
    if (!columns.some((c) => c >= st.offs[i]! && c < st.offs[i]! + kb)) return;
    const at = 4 * (i * W + (bit >>> 5)) + ((bit & 31) >>> 3); // little-endian words
    corrections[at]! ^= 1 << (bit & 7);
  });
}

/** Deviations of a cheating party. */
export interface OfflineCheat {
  /** Use inconsistent OT-extension choice bits in the SoftSpokenOT blocks containing these columns (caught by the consistency check). */
  kosColumns?: number[];
  /** Deviate in digit `copeBit` of my COPE corrections (a per-digit wrong x; caught by the authentication check unless the peer's α digit is 0). */
  copeBit?: number;
  /** Corrupt both halves of the COPE setup correction of base OT `copeSetup` (caught by the authentication check). */
  copeSetup?: number;
  /** Add 1 to my share of every c before authenticating (caught by the sacrifice). */
  badTriple?: boolean;
}

/** An OfflineParty that deviates as `cheat` says (every other behaviour, and every check it runs on its peers, unchanged). */
export class CheatingOfflineParty extends OfflineParty {
  constructor(cfg: OfflineConfig, rng: Rng, private readonly cheat: OfflineCheat, opts: { baseOts?: KeptOtStore } = {}) { super(cfg, rng, opts); }
  protected override extendFault(st: SsReceiverState, corrections: Uint8Array): void { if (this.cheat.kosColumns) flipChoiceBit(st, corrections, this.cheat.kosColumns, 0); }
  protected override copeSetupFault(setup: Uint8Array): void { for (let b = 0; this.cheat.copeSetup !== undefined && b < 32; b++) setup[32 * this.cheat.copeSetup + b]! ^= 0x5a; }
  protected override copeFault(F: Field, message: Uint8Array, m: number): void {
    if (this.cheat.copeBit === undefined || m === 0) return;
    // +1 on the first correction of digit copeBit: a sender using a different x in that digit
    const at = this.cheat.copeBit * m * F.byteLength, el = F.decodeExact(message.subarray(at, at + F.byteLength), 1);
    F.set(el, 0, (F.get(el, 0) + 1n) % F.p);
    message.set(F.encode(el), at);
  }
  protected override tripleFault(F: Field, c: FieldVec): FieldVec { return this.cheat.badTriple ? F.add(c, F.fromInts(new Array<number>(c.length).fill(1))) : c; }
}

/** A cheating party when `opts.cheat` is given, else an honest one (tests build committees with it). */
export function offlineParty(cfg: OfflineConfig, rng: Rng, { cheat, ...opts }: { cheat?: OfflineCheat; baseOts?: KeptOtStore } = {}): OfflineParty {
  return cheat ? new CheatingOfflineParty(cfg, rng, cheat, opts) : new OfflineParty(cfg, rng, opts);
}
