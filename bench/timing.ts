/** CPU-time helpers shared by the in-process MASCOT benches. */
import type { SecureSumParty } from "../protocol/mascot/party.ts";
import type { Inbound, MessageParty, Outbound } from "../protocol/mascot/testing/transport.ts";

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Process CPU time in ms (user + system): robust to other processes competing for the cores. */
export function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** A party wrapper that adds up the CPU time spent in its own steps (parties run in one thread). */
export class Timed implements MessageParty {
  cpu = 0;
  constructor(readonly p: SecureSumParty) {}
  get done(): boolean { return this.p.done; }
  start(): Outbound[] { const t = cpuMs(); try { return this.p.start(); } finally { this.cpu += cpuMs() - t; } }
  receive(m: Inbound): Outbound[] { const t = cpuMs(); try { return this.p.receive(m); } finally { this.cpu += cpuMs() - t; } }
}
