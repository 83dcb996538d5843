import { describe, expect, it } from "vitest";
import path from "node:path";
import { loadJobSpec, prepareSpec } from "../../../client/cli/job.ts";
import { taskColumns } from "../../../protocol/jobs/columns.ts";
import type { ApiClient } from "../../../client/api/client.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");

describe("taskColumns: the columns a job reads (node policy targets)", () => {
  it("statistics: filters, measures and group-bys", async () => {
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-stats-small.json"));
    expect(taskColumns(spec)).toEqual(["age", "income", "sex"]);
    const q = (spec.task.query as Record<string, unknown>);
    const filtered = { ...spec, task: { ...spec.task, query: { ...q, filters: [{ column: "race", op: "eq", value: "White" }] } } };
    expect(taskColumns(filtered)).toContain("race");
  });

  it("learning: the preprocessing's numeric, categorical and label columns", async () => {
    const loaded = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-learning.json"));
    const { standardization: _s, ...task } = loaded.task as Record<string, unknown>;
    const model = task.model as { preprocessing: { numeric: string[]; categorical: Array<{ column: string }>; label: { column: string }; standardize?: boolean } };
    const spec = await prepareSpec({} as ApiClient, { ...loaded, task: { ...task, model: { ...model, preprocessing: { ...model.preprocessing, standardize: false } } } }, () => undefined);
    const cols = taskColumns(spec);
    for (const c of model.preprocessing.numeric) expect(cols).toContain(c);
    for (const c of model.preprocessing.categorical) expect(cols).toContain(c.column);
    expect(cols).toContain(model.preprocessing.label.column);
    expect(cols).not.toContain("*");
  });
});
