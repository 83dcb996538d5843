/**
 * Which columns of a node's dataset a job reads: the targets a node's policy can restrict
 * (client/agent/policy.ts `columns`). Derived from the parsed task, never from free text:
 * statistics read their filters', measures' and group-bys' columns; learning reads its
 * preprocessing's numeric, categorical and label columns, or every column ("*") when the
 * model derives its features from the whole schema.
 */
import type { JobSpec } from "../api/schemas.ts";
import { parseStatsQuery } from "../stats/query.ts";
import { parseLearningTask } from "./learning.ts";

/** Every column the job's task reads, sorted; ["*"] when it reads the whole row. Throws the task's parse error. */
export function taskColumns(spec: Pick<JobSpec, "type" | "task">): string[] {
  const out = new Set<string>();
  if (spec.type === "stats") {
    const q = parseStatsQuery(spec.task.query);
    for (const f of q.filters) out.add(f.column);
    for (const m of q.measures) {
      if ("column" in m && typeof m.column === "string") out.add(m.column);
      if (m.groupBy) out.add(m.groupBy);
    }
  } else {
    const pre = parseLearningTask(spec.task).job.model.preprocessing;
    if (!pre) return ["*"];
    for (const c of pre.numeric) out.add(c);
    for (const c of pre.categorical) out.add(c.column);
    if (pre.label) out.add(pre.label.column);
  }
  return [...out].sort();
}
