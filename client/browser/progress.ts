/**
 * The browser node's progress lines: the same wording as `2pm node start` prints
 * (client/cli/node-start.ts), one line per agent event.
 */
import type { AgentEvent } from "../agent/agent.ts";

export { describeEvent } from "../agent/describe-event.ts";

/** Per-round state the page's progress table shows: the latest phase and the outcome. */
export interface RoundProgress {
  key: string;
  jobId: string;
  round: number;
  attempt: number;
  party?: string;
  phase: string;
  phases: number;
  status: "running" | "accepted" | "aborted" | "declined";
  detail?: string;
}

/** Folds an event into the per-round table (mutates and returns `rounds`); other events leave it unchanged. */
export function foldProgress(rounds: Map<string, RoundProgress>, e: AgentEvent): Map<string, RoundProgress> {
  if (!("jobId" in e)) return rounds;
  const key = `${e.jobId}/${e.round}/${e.attempt}`;
  const cur = rounds.get(key) ?? { key, jobId: e.jobId, round: e.round, attempt: e.attempt, phase: "—", phases: 0, status: "running" as const };
  switch (e.kind) {
    case "assignment": cur.party = `${e.index + 1} of ${e.committee}`; cur.phase = "checking"; break;
    case "computed": cur.phase = "input ready"; break;
    case "phase": cur.phase = e.phase; cur.phases++; break;
    case "round-done": cur.status = "accepted"; cur.detail = `${(e.ms / 1000).toFixed(1)} s, sent ${e.bytesSent} B, received ${e.bytesReceived} B${e.excluded.length ? `, excluded ${e.excluded.join(",")}` : ""}`; break;
    case "round-aborted": cur.status = "aborted"; cur.detail = e.code; break;
    case "rejected": cur.status = "declined"; cur.detail = e.detail; break;
  }
  rounds.set(key, cur);
  return rounds;
}
