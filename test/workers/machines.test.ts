import { describe, expect, it } from "vitest";
import {
  canTransitionJob, canTransitionRound, IllegalTransition, isJobTerminal, isRoundTerminal, JOB_STATUSES, ROUND_PHASES, transitionJob, transitionRound,
} from "../../durable-objects/core/machines.ts";

describe("job state machine over every (from, to) pair", () => {
  const allowed = new Set(["pending>running", "pending>failed", "pending>cancelled", "running>completed", "running>failed", "running>cancelled"]);
  for (const from of JOB_STATUSES) for (const to of JOB_STATUSES) {
    it(`${from} → ${to}`, () => {
      const ok = allowed.has(`${from}>${to}`);
      expect(canTransitionJob(from, to)).toBe(ok);
      if (ok) expect(transitionJob(from, to)).toBe(to);
      else expect(() => transitionJob(from, to)).toThrow(IllegalTransition);
    });
  }
  it("terminal states", () => {
    expect(JOB_STATUSES.filter(isJobTerminal)).toEqual(["completed", "failed", "cancelled"]);
  });
});

describe("round phase machine over every (from, to) pair", () => {
  const allowed = new Set(["waiting>running", "waiting>aborted", "running>finalizing", "running>aborted", "finalizing>accepted", "finalizing>aborted"]);
  for (const from of ROUND_PHASES) for (const to of ROUND_PHASES) {
    it(`${from} → ${to}`, () => {
      const ok = allowed.has(`${from}>${to}`);
      expect(canTransitionRound(from, to)).toBe(ok);
      if (ok) expect(transitionRound(from, to)).toBe(to);
      else expect(() => transitionRound(from, to)).toThrow(IllegalTransition);
    });
  }
  it("terminal phases", () => {
    expect(ROUND_PHASES.filter(isRoundTerminal)).toEqual(["accepted", "aborted"]);
  });
});
