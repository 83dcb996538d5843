/**
 * The registry of job types (issue 14): one {@link JobTypeDef} per `JobSpec.type`, used by
 * every room — the Worker's submission route (validate, limits), the coordinator's job machine
 * (init, reduce, roundLimit, abandonRound; durable-objects/core/job-types.ts), the node's tasks
 * (parseTask, roundPlan; client/agent/tasks), the node's policy (columns) and the CLI. Adding a
 * job type means one definition here and one node task keyed by the same type.
 */
import type { JobSpec, JobType } from "../api/schemas.ts";
import { learningJobType } from "./learning.ts";
import { statsJobType } from "./stats.ts";
import type { JobTypeDef } from "./types.ts";

export const jobTypes = {
  stats: statsJobType,
  learning: learningJobType,
} as const satisfies Record<JobType, JobTypeDef>;

/** The definition of `type`. Throws TypeError for a type the registry does not know (a spec parsed by JobSpec never has one). */
export function jobType(type: JobType): JobTypeDef {
  const def: JobTypeDef | undefined = Object.hasOwn(jobTypes, type) ? jobTypes[type] : undefined;
  if (!def) throw new TypeError(`unknown job type ${JSON.stringify(type)}`);
  return def;
}

/**
 * The submission checks of a spec by its type (see JobTypeDef.validate): the parsed task, or
 * SpecLimitError (413 spec-too-large) / another Error naming the problem (400 invalid-task).
 */
export function validateSpec(spec: JobSpec): unknown {
  return jobType(spec.type).validate(spec);
}
