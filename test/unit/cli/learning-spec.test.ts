import { describe, expect, it } from "vitest";
import path from "node:path";
import { checkLearningSpec, loadJobSpec } from "../../../client/cli/job.ts";
import { CliError } from "../../../client/cli/errors.ts";

const ROOT = path.resolve(import.meta.dirname, "..", "..", "..");
const load = async () => {
  const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-learning.json"));
  const { schema, bounds: _b, ...task } = spec.task as Record<string, unknown>;
  return { task: structuredClone(task) as Record<string, any>, schema };
};

describe("learning specs are checked whole before anything runs", () => {
  it("the example spec passes; inputDim left out is computed from the preprocessing", async () => {
    const { task, schema } = await load();
    const want = task.model.inputDim;
    checkLearningSpec(task, schema);
    delete task.model.inputDim;
    checkLearningSpec(task, schema);
    expect(task.model.inputDim).toBe(want);
  });

  it("an unknown categorical level is refused, naming the declared levels", async () => {
    const { task, schema } = await load();
    task.model.preprocessing.categorical[0].levels.push("Freelance");
    task.model.inputDim += 1;
    expect(() => checkLearningSpec(task, schema)).toThrow(/workclass has no level "Freelance" \(levels: Private,/);
  });

  it("a wrong inputDim, a misspelt column and an unknown class are all reported in one error", async () => {
    const { task, schema } = await load();
    task.model.inputDim += 3;
    task.model.preprocessing.numeric[0] = "agee";
    task.model.preprocessing.label.classes[1] = ">50k";
    let err: unknown;
    try { checkLearningSpec(task, schema); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CliError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/no column "agee" in schema adult/);
    expect(msg).toMatch(/income has no class ">50k"/);
    expect(msg).toMatch(/task\.model\.inputDim: preprocessing encodes \d+ features, inputDim is \d+/);
  });

  it("the private example (adult-learning-dp.json) passes: privacy and dp parameters in validated mode", async () => {
    const spec = await loadJobSpec(path.join(ROOT, "examples/jobs/adult-learning-dp.json"));
    const { schema, bounds: _b, ...task } = spec.task as Record<string, unknown>;
    expect(spec.mode).toBe("validated");
    expect(() => checkLearningSpec(structuredClone(task) as Record<string, any>, schema)).not.toThrow();
    expect(task.privacy).toEqual({ epsilon: 3, delta: 1e-6 });
  });
});
