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

/** The three checks over a transition table; `name` labels its IllegalTransition. */
function machine<S extends string>(name: string, next: Record<S, readonly S[]>) {
  const can = (from: S, to: S): boolean => next[from].includes(to);
  const transition = (from: S, to: S): S => {
    if (!can(from, to)) throw new IllegalTransition(name, from, to);
    return to;
  };
  return { can, transition, isTerminal: (s: S): boolean => next[s].length === 0 };
}

const job = machine("job", JOB_NEXT);
const round = machine("round", ROUND_NEXT);

/** True iff a job may go from `from` to `to`. */
export const canTransitionJob = job.can;
/** Returns `to` if the job transition is legal, else throws IllegalTransition. */
export const transitionJob = job.transition;
/** True for completed, failed, cancelled. */
export const isJobTerminal = job.isTerminal;
/** True iff a round may go from `from` to `to`. */
export const canTransitionRound = round.can;
/** Returns `to` if the round transition is legal, else throws IllegalTransition. */
export const transitionRound = round.transition;
/** True for accepted, aborted. */
export const isRoundTerminal = round.isTerminal;
