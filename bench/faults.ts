/**
 * `npm run bench -- faults [--nodes 4] [--progress-ms MS] [--phases N] [--cut-ms 3000]`
 * (default: the deployed progress timeout from wrangler.toml, a restart at every phase)
 *
 * The fault bench of issue 15, with real processes: a local coordinator (the deploy bundle on
 * Miniflare, scripts/lib/coordinator.ts) and `2pm node start` processes holding slices of the
 * UCI adult data, running the validated census query (committee 3 of N). Scenarios:
 *  - baseline: the job without faults (its wall time is what the others are compared with);
 *  - restart at <phase>: when a committee member reaches <phase>, the coordinator is killed
 *    (its Miniflare instance disposed, no goodbye) and started again on the same port with the
 *    same state; the job must complete with no node blamed; "added" is wall time − baseline;
 *  - cut 3 s: one member's network (a TCP proxy in front of it) is reset and refused for 3 s
 *    mid-round; the round must complete without an abort;
 *  - stall / kill: one member is stopped (SIGSTOP, socket open) or killed (SIGKILL) mid-round;
 *    measured: the time from the fault to the round's abort, and whom the abort names (must be
 *    exactly that member); the job then completes with another committee.
 * The phases are taken from the baseline run's own phase events, so the bench follows the
 * protocol's schedule as it is.
 */
import path from "node:path";
import { startCluster, type Cluster, type NodeProcess } from "../scripts/lib/cluster.ts";
import { loadJobSpec, watchJob } from "../client/cli/job.ts";
import type { JobSpec, RoundInfo } from "../protocol/api/schemas.ts";
import { loadNote, type BenchResult } from "./types.ts";
import { optArg } from "./args.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const ADULT = { schemaFile: path.join(ROOT, "examples/schemas/adult.json"), dataFile: path.join(ROOT, "examples/data/adult-train.csv"), maxRowsPerNode: 1000 };

function arg(args: string[], name: string, def: number): number {
  const raw = optArg(args, name);
  const v = raw === undefined ? def : Number(raw);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`);
  return v;
}

/** The phase without a chunk suffix `#i/n`. */
const base = (p: string) => p.replace(/#\d+\/\d+$/, "");

interface Outcome { ms: number; status: string; rounds: RoundInfo[] }

/** Submits the job and waits for it to finish; `during` runs concurrently (the fault). */
async function runJob(c: Cluster, spec: JobSpec, during?: (jobId: string) => Promise<void>): Promise<Outcome> {
  const t0 = Date.now();
  const job = await c.operator.submitJob(spec);
  let faultError: unknown;
  let faultDone = false;
  const faults = (during ? during(job.id) : Promise.resolve()).catch((e: unknown) => { faultError = e; }).finally(() => { faultDone = true; });
  const final = await watchJob(c.operator, job.id, () => undefined, 250);
  await Promise.race([faults, new Promise((r) => setTimeout(r, 1000))]);
  if (faultError) throw new Error(`job ${job.id} (${final.status}): the fault could not be injected: ${(faultError as Error).message}`);
  if (!faultDone) throw new Error(`job ${job.id} ended (${final.status}) before the fault point was reached`);
  return { ms: Date.now() - t0, status: final.status, rounds: await c.operator.rounds(job.id) };
}

/** Resolves with the first node of the job's current committee that reports `phase` (base name), and when. */
function atPhase(c: Cluster, jobId: string, phase: string, timeoutMs = 300_000): Promise<{ node: NodeProcess; at: number }> {
  return Promise.race(c.nodes.map((n) => n.waitFor((e) => e.kind === "phase" && e.jobId === jobId && base(String(e.phase)) === phase, timeoutMs).then(() => ({ node: n, at: Date.now() }))));
}

const blamed = (rounds: RoundInfo[]) => [...new Set(rounds.flatMap((r) => r.abort?.culprits ?? []))];
const aborts = (rounds: RoundInfo[]) => rounds.filter((r) => r.status === "aborted").map((r) => r.abort?.code ?? "?").join(",") || "none";

export async function run(args: string[]): Promise<BenchResult> {
  const nodes = arg(args, "nodes", 4);
  const progressMs = arg(args, "progress-ms", 0); // 0: wrangler.toml's ROUND_PROGRESS_TIMEOUT_MS
  const phaseCount = arg(args, "phases", 100);
  const cutMs = arg(args, "cut-ms", 3000);
  if (nodes < 4) throw new Error("--nodes must be at least 4 (committee 3 plus one to replace a blamed member)");
  const spec0 = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
  const spec: JobSpec = { ...spec0, committee: { size: 3, min: 3 }, retryBudget: 2, deadlines: { join: 30, compute: 300, finalize: 30, select: 60 } };
  const notes = [loadNote("at start")];
  const c = await startCluster({
    nodes, datasets: [ADULT], livenessSeconds: 30, proxiedNodes: Array.from({ length: nodes }, (_, i) => i),
    ...(progressMs ? { coordinatorVars: { ROUND_PROGRESS_TIMEOUT_MS: String(progressMs) } } : {}),
  });
  const rows: BenchResult["rows"] = [];
  try {
    // Baseline, and the phase schedule a member goes through.
    const warm = await runJob(c, spec); // first run pays base OTs with every new peer
    const phasesSeen: string[] = [];
    const b = await runJob(c, spec);
    for (const n of c.nodes) for (const e of n.events) if (e.kind === "phase" && !phasesSeen.includes(base(String(e.phase)))) phasesSeen.push(base(String(e.phase)));
    rows.push({ scenario: "baseline (warm)", status: b.status, seconds: b.ms / 1000, added_s: 0, aborts: aborts(b.rounds), blamed: blamed(b.rounds).length, detect_s: "" });
    rows.push({ scenario: "first job (new peers)", status: warm.status, seconds: warm.ms / 1000, added_s: "", aborts: aborts(warm.rounds), blamed: blamed(warm.rounds).length, detect_s: "" });
    // Phases of a running round (not terminal bookkeeping), evenly spread.
    const usable = phasesSeen.filter((p) => !/^(result|done|aborted)$/.test(p));
    const pick = usable.length <= phaseCount ? usable : Array.from({ length: phaseCount }, (_, k) => usable[Math.round((k * (usable.length - 1)) / Math.max(1, phaseCount - 1))]!);
    notes.push(`phases a member went through: ${usable.join(" → ")}`);

    for (const phase of [...new Set(pick)]) {
      let restartMs = 0;
      const o = await runJob(c, spec, async (jobId) => {
        await atPhase(c, jobId, phase);
        const t = Date.now();
        await c.coordinator.restart();
        restartMs = Date.now() - t;
      });
      rows.push({ scenario: `coordinator restart at ${phase}`, status: o.status, seconds: o.ms / 1000, added_s: (o.ms - b.ms) / 1000, aborts: aborts(o.rounds), blamed: blamed(o.rounds).length, detect_s: `restart ${(restartMs / 1000).toFixed(1)} s` });
    }

    const mid = usable[Math.floor(usable.length / 2)] ?? "start";
    {
      let victim = "";
      const o = await runJob(c, spec, async (jobId) => {
        const { node } = await atPhase(c, jobId, mid);
        victim = node.nodeId;
        await c.proxies.get(node.name)!.cut(cutMs);
      });
      rows.push({ scenario: `node network cut ${cutMs / 1000} s at ${mid}`, status: o.status, seconds: o.ms / 1000, added_s: (o.ms - b.ms) / 1000, aborts: aborts(o.rounds), blamed: blamed(o.rounds).length, detect_s: blamed(o.rounds).includes(victim) ? "victim blamed" : "" });
    }

    for (const kind of ["stall", "kill"] as const) {
      let victim = "";
      let faultAt = 0;
      let proc: NodeProcess | undefined;
      const o = await runJob(c, spec, async (jobId) => {
        const { node, at } = await atPhase(c, jobId, mid);
        victim = node.nodeId;
        proc = node;
        faultAt = at;
        node.child!.kill(kind === "stall" ? "SIGSTOP" : "SIGKILL");
      });
      const first = o.rounds.find((r) => r.status === "aborted");
      const detect = first?.endedAt ? (first.endedAt - faultAt) / 1000 : NaN;
      const named = first?.abort?.culprits ?? [];
      rows.push({
        scenario: `member ${kind === "stall" ? "stalled (SIGSTOP)" : "killed (SIGKILL)"} at ${mid}`, status: o.status, seconds: o.ms / 1000, added_s: (o.ms - b.ms) / 1000,
        aborts: aborts(o.rounds), blamed: named.length, detect_s: Number.isFinite(detect) ? `${detect.toFixed(1)} (${named.length === 1 && named[0] === victim ? "right member" : `named ${named.join(",") || "nobody"}`})` : "not detected",
      });
      if (kind === "stall") proc?.child?.kill("SIGCONT");
      else if (proc) { // a fresh process for the same node directory keeps N nodes for the next scenario
        await proc.start();
      }
    }
  } finally {
    await c.stop();
  }
  notes.push(
    `${nodes} node processes, committee 3, validated census query (examples/jobs/adult-stats-small.json), ROUND_PROGRESS_TIMEOUT_MS=${progressMs || "the deployed default (wrangler.toml)"}; nodes run their parties in a worker thread.`,
    "goals (issue 15): coordinator restart at each phase — job completes, no node blamed, ≤ 10 s added; node unreachable 3 s — round completes; dead or stalled member — detected ≤ 10 s, the right member named.",
    "detect_s: from the fault to the round's abort entry (endedAt), as seen by the coordinator's clock.",
    loadNote("at end"),
  );
  return { name: "faults", rows, notes };
}
