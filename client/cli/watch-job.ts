/**
 * Following a job from the command line, the demo and the tests: `watchJob` polls the job and
 * its rounds and reports each change (client/cli/job.ts re-exports it). Its own module so that
 * the learning pipeline (pipeline.ts), which waits for its feature-moments job, and the job
 * commands (job.ts), which run the pipeline, do not import each other.
 */
import type { JobSummary, RoundInfo } from "../../protocol/api/schemas.ts";
import type { ApiClient } from "../api/client.ts";
import { CliError } from "./errors.ts";
import { estimateEta, type ProgressState } from "./progress.ts";

/** Reasons in a failure text, one per line: "…; declined: a | b" → the head, then "  declined: a", "  declined: b". Pure. */
export function failureLines(error: string): string[] {
  const i = error.indexOf("; declined: ");
  if (i < 0) return [error];
  return [error.slice(0, i), ...error.slice(i + "; declined: ".length).split(" | ").map((r) => `  declined: ${r}`)];
}

const TERMINAL = new Set(["completed", "failed", "cancelled"]);

type History = Array<{ round: number; loss?: number | null; accuracy?: number | null }>;
type Watched = { history?: History; final?: "evaluating" | "evaluated"; latestModelRound?: number } | null;

function metricsLine(result: Watched, round: number): string {
  const h = result?.history?.find((x) => x.round === round);
  if (!h) return "";
  const loss = typeof h.loss === "number" ? h.loss.toFixed(4) : "—";
  const acc = typeof h.accuracy === "number" ? `${(100 * h.accuracy).toFixed(2)}%` : "—";
  return ` loss ${loss} accuracy ${acc}`;
}

/** One thing `job watch` reports: a round attempt that changed state, or the job's status. */
export type WatchEvent =
  | { kind: "round"; round: number; attempt: number; status: RoundInfo["status"]; committee: string[]; abort: RoundInfo["abort"]; finalEvaluation: boolean; loss?: number | null; accuracy?: number | null }
  | { kind: "job"; id: string; status: JobSummary["status"]; error: string | null };

export interface WatchOptions {
  intervalMs?: number;
  /** Called for each event with its text; when given, `print` is not called. */
  onEvent?: (e: WatchEvent, text: string) => void;
  /** Called after each poll with the job's progress (for a status line). */
  onProgress?: (p: ProgressState) => void;
}

/**
 * Polls a job until it ends, reporting each round attempt's progress as a line (1-based:
 * "round 2/5 attempt 1"; a learning job's evaluation-only last round as "final evaluation of
 * model k"), and the job's status with each decline reason on its own line; returns the
 * final summary. Retries a lost connection for up to 60 s, then throws CliError; an HTTP
 * error (e.g. 404 for an unknown job) is thrown as is.
 */
export async function watchJob(op: ApiClient, id: string, print: (s: string) => void = console.log, options: number | WatchOptions = 500): Promise<JobSummary> {
  const o: WatchOptions = typeof options === "number" ? { intervalMs: options } : options;
  const intervalMs = o.intervalMs ?? 500;
  const emit = (e: WatchEvent, text: string) => (o.onEvent ? o.onEvent(e, text) : text.split("\n").forEach((l) => print(l)));
  const seen = new Map<string, string>();
  const durations = new Map<string, number>();
  let lastStatus = "";
  let unreachableSince = 0;
  let result: Watched = null;
  let resultFor = "";
  for (;;) {
    let job: JobSummary, spec: { maxRounds?: number; type?: string } | undefined, list: RoundInfo[];
    try {
      ({ job, spec } = await op.job(id));
      list = await op.rounds(id);
      unreachableSince = 0;
    } catch (e) {
      // A network failure (not an HTTP error) while watching a long job: retry for up to 60 s.
      if (!(e instanceof TypeError)) throw e;
      if (!unreachableSince) { unreachableSince = Date.now(); print(`coordinator unreachable (${e.message}); retrying`); }
      if (Date.now() - unreachableSince > 60_000) throw new CliError(`coordinator unreachable for 60 s while watching job ${id}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    // The result tells which rounds were evaluated and whether the open round only evaluates the final model.
    const accepted = list.filter((r) => r.status === "accepted").length;
    const want = `${accepted}/${list.length ? list[list.length - 1]!.round : -1}`;
    if (want !== resultFor && (accepted > 0)) {
      result = ((await op.result(id).catch(() => null))?.result ?? null) as Watched;
      resultFor = want;
    }
    const max = spec?.maxRounds ? `/${spec.maxRounds}` : "";
    const isFinal = (round: number) => result?.final !== undefined && result.latestModelRound === round && spec?.type === "learning";
    const name = (round: number) => (isFinal(round) ? `final evaluation of model ${round}` : `round ${round + 1}${max}`);
    for (const r of list) {
      const key = `${r.round}.${r.attempt}`;
      const state = `${r.status}${r.abort ? `:${r.abort.code}` : ""}`;
      if (r.endedAt !== null) durations.set(key, r.endedAt - r.startedAt);
      if (seen.get(key) === state) continue;
      seen.set(key, state);
      // A decline carries the node's own reason (its signed decline request): show it, not just the code.
      const why = r.abort?.code === "declined" && r.abort.detail ? `: ${r.abort.detail}` : "";
      const detail = r.status === "aborted" && r.abort ? ` — ${r.abort.code}${r.abort.culprits.length ? ` (culprits ${r.abort.culprits.map((c) => c.slice(0, 8)).join(", ")})` : ""}${why}` : "";
      const h = result?.history?.find((x) => x.round === r.round);
      const ev: WatchEvent = { kind: "round", round: r.round, attempt: r.attempt, status: r.status, committee: r.committee, abort: r.abort, finalEvaluation: isFinal(r.round),
        ...(r.status === "accepted" && h ? { loss: h.loss ?? null, accuracy: h.accuracy ?? null } : {}) };
      emit(ev, `${name(r.round)} attempt ${r.attempt + 1}: ${r.status} [committee ${r.committee.map((c) => c.slice(0, 8)).join(" ")}]${detail}${r.status === "accepted" ? metricsLine(result, r.round) : ""}`);
    }
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      emit({ kind: "job", id, status: job.status, error: job.error }, [`job ${id}: ${job.status}${job.error ? ` — ${failureLines(job.error)[0]}` : ""}`, ...(job.error ? failureLines(job.error).slice(1) : [])].join("\n"));
    }
    if (TERMINAL.has(job.status)) return job;
    if (o.onProgress) {
      const open = list.find((r) => r.status === "running");
      const finished = list.filter((r) => r.status === "accepted" && r.endedAt !== null).map((r) => r.endedAt! - r.startedAt);
      const total = spec?.maxRounds ?? null;
      const phase = open ? `${name(open.round)} running (attempt ${open.attempt + 1})` : job.status === "pending" || !list.length ? "waiting for a committee" : `selecting the committee of ${name(job.round)}`;
      // Learning jobs may stop early; the estimate assumes they run to maxRounds (plus the final evaluation).
      const remaining = total === null ? null : total - accepted + (spec?.type === "learning" && result?.final === undefined ? 1 : 0);
      o.onProgress({ done: Math.min(accepted, total ?? accepted), total, phase, etaMs: estimateEta(finished, remaining, open ? Date.now() - open.startedAt : 0) });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
