/**
 * The coordinator's view of the job-type registry (protocol/jobs/registry.ts): the job machine
 * looks up `engines[spec.type]` for the round-0 state and model (init), the reduce of each
 * accepted aggregate, the round limit and whether an unrunnable round is optional. The
 * definitions are pure and shared with the Worker's routes, the node's tasks and the CLI.
 */
export { jobTypes as engines } from "../../protocol/jobs/registry.ts";
export type { JobTypeDef as JobEngine, ReduceOutput, RoundAggregate, StoredModel } from "../../protocol/jobs/types.ts";
