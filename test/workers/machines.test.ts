import { describe, expect, it } from "vitest";
import {
  canTransitionJob, canTransitionRound, IllegalTransition, isJobTerminal, isRoundTerminal, JOB_STATUSES, ROUND_PHASES, transitionJob, transitionRound,
} from "../../durable-objects/core/machines.ts";

const MACHINES = [
  {
    name: "job state machine", states: JOB_STATUSES as readonly string[], can: canTransitionJob, transition: transitionJob, isTerminal: isJobTerminal,
    allowed: ["pending>running", "pending>failed", "pending>cancelled", "running>completed", "running>failed", "running>cancelled"], terminal: ["completed", "failed", "cancelled"],
  },
  {
    name: "round phase machine", states: ROUND_PHASES as readonly string[], can: canTransitionRound, transition: transitionRound, isTerminal: isRoundTerminal,
    allowed: ["waiting>running", "waiting>aborted", "running>finalizing", "running>aborted", "finalizing>accepted", "finalizing>aborted"], terminal: ["accepted", "aborted"],
  },
] as Array<{ name: string; states: readonly string[]; can: (f: string, t: string) => boolean; transition: (f: string, t: string) => string; isTerminal: (s: string) => boolean; allowed: string[]; terminal: string[] }>;

for (const m of MACHINES) {
  describe(`${m.name} over every (from, to) pair`, () => {
    const allowed = new Set(m.allowed);
    for (const from of m.states) for (const to of m.states) {
      it(`${from} → ${to}`, () => {
        const ok = allowed.has(`${from}>${to}`);
        expect(m.can(from, to)).toBe(ok);
        if (ok) expect(m.transition(from, to)).toBe(to);
        else expect(() => m.transition(from, to)).toThrow(IllegalTransition);
      });
    }
    it("terminal states", () => {
      expect(m.states.filter(m.isTerminal)).toEqual(m.terminal);
    });
  });
}
