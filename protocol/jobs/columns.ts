/**
 * Which columns of a node's dataset a job reads: the targets a node's policy can restrict
 * (client/agent/policy.ts `columns`). Derived from the parsed task by the job type
 * (./registry.ts `columns`), never from free text: statistics read their filters', measures'
 * and group-bys' columns; learning reads its preprocessing's numeric, categorical and label
 * columns, or every column ("*") when the model derives its features from the whole schema.
 */
import type { JobSpec } from "../api/schemas.ts";
import { jobType } from "./registry.ts";

/** Every column the job's task reads, sorted; ["*"] when it reads the whole row. Throws the task's parse error. */
export function taskColumns(spec: Pick<JobSpec, "type" | "task">): string[] {
  const def = jobType(spec.type);
  return def.columns(def.parseTask(spec.task));
}
