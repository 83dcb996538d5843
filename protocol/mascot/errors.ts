/**
 * Protocol faults: a peer deviated, so the protocol aborts with a code from a closed set
 * (docs/ARCHITECTURE.md) and the indices of the parties known to be at fault (possibly
 * empty when the deviation cannot be attributed, e.g. a failed MAC check).
 */

export const ABORT_CODES = [
  "mac-check-failed",
  "commitment-mismatch",
  "cope-check-failed",
  "ot-check-failed",
  "sacrifice-failed",
  "input-check-failed",
  "equivocation",
  "unexpected-message",
  "replay",
  "bad-encoding",
  "timeout",
  /** Committee members saw different manifests or logs (a forked log or a substituted key). */
  "view-mismatch",
] as const;

export type AbortCode = (typeof ABORT_CODES)[number];

export class ProtocolAbort extends Error {
  readonly code: AbortCode;
  readonly culprits: number[];
  constructor(code: AbortCode, culprits: number[], detail?: string) {
    super(`protocol abort (${code})${culprits.length ? ` blaming party ${culprits.join(", ")}` : ""}${detail ? `: ${detail}` : ""}`);
    this.name = "ProtocolAbort";
    this.code = code;
    this.culprits = [...culprits];
  }
}
