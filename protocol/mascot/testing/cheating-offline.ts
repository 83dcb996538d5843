/**
 * A cheating offline party for negative tests: OfflineParty (offline.ts) with its fault seams
 * overridden. Testing module: no production file may import it (test/unit/architecture.test.ts).
 */
import type { Field, FieldVec } from "../../field/types.ts";
import type { Rng } from "../../rng.ts";
import { OfflineParty, type KosBaseStore, type OfflineConfig } from "../offline.ts";

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
  constructor(cfg: OfflineConfig, rng: Rng, private readonly cheat: OfflineCheat, opts: { baseOts?: KosBaseStore } = {}) { super(cfg, rng, opts); }
  protected override extendFault() { return this.cheat.kosColumns ? { columns: this.cheat.kosColumns, bit: 0 } : undefined; }
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
export function offlineParty(cfg: OfflineConfig, rng: Rng, { cheat, ...opts }: { cheat?: OfflineCheat; baseOts?: KosBaseStore } = {}): OfflineParty {
  return cheat ? new CheatingOfflineParty(cfg, rng, cheat, opts) : new OfflineParty(cfg, rng, opts);
}
