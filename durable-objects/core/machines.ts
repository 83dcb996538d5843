/**
 * The two explicit state machines of the coordinator, each a transition table plus one
 * check function (tested over every (from, to) pair in test/workers/machines.test.ts).
 */
import type { JobStatus } from "../../protocol/api/schemas.ts";
import type { RoundPhase } from "../../protocol/api/frames.ts";

export const JOB_STATUSES: readonly JobStatus[] = ["pending", "running", "completed", "failed", "cancelled"];
const JOB_NEXT: Record<JobStatus, readonly JobStatus[]> = {
  pending: ["running", "failed", "cancelled"],
  running: ["completed", "failed", "cancelled"],
  completed: [],
  failed: [],
  cancelled: [],
};

export const ROUND_PHASES: readonly RoundPhase[] = ["waiting", "running", "finalizing", "accepted", "aborted"];
const ROUND_NEXT: Record<RoundPhase, readonly RoundPhase[]> = {
  waiting: ["running", "aborted"],
  running: ["finalizing", "aborted"],
  finalizing: ["accepted", "aborted"],
  accepted: [],
  aborted: [],
};

/** Thrown on an illegal transition: always our bug, never a caller's. */
export class IllegalTransition extends Error {
  constructor(machine: string, from: string, to: string) {
    super(`${machine}: illegal transition ${from} → ${to}`);
    this.name = "IllegalTransition";
  }
}

/** True iff a job may go from `from` to `to`. */
export function canTransitionJob(from: JobStatus, to: JobStatus): boolean {
  return JOB_NEXT[from].includes(to);
}

/** Returns `to` if the job transition is legal, else throws IllegalTransition. */
export function transitionJob(from: JobStatus, to: JobStatus): JobStatus {
  if (!canTransitionJob(from, to)) throw new IllegalTransition("job", from, to);
  return to;
}

/** True for completed, failed, cancelled. */
export function isJobTerminal(s: JobStatus): boolean {
  return JOB_NEXT[s].length === 0;
}

/** True iff a round may go from `from` to `to`. */
export function canTransitionRound(from: RoundPhase, to: RoundPhase): boolean {
  return ROUND_NEXT[from].includes(to);
}

/** Returns `to` if the round transition is legal, else throws IllegalTransition. */
export function transitionRound(from: RoundPhase, to: RoundPhase): RoundPhase {
  if (!canTransitionRound(from, to)) throw new IllegalTransition("round", from, to);
  return to;
}

/** True for accepted, aborted. */
export function isRoundTerminal(p: RoundPhase): boolean {
  return ROUND_NEXT[p].length === 0;
}
