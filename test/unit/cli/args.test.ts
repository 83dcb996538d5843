import { describe, expect, it } from "vitest";
import { intOption, joinDashValues, parse } from "../../../client/cli/args.ts";
import { UsageError } from "../../../client/cli/errors.ts";

const options = {
  "trust-submitter": { type: "string" as const, multiple: true, default: [] as string[] },
  dir: { type: "string" as const, short: "d" },
  verbose: { type: "boolean" as const },
};

describe("CLI argument parsing", () => {
  it("accepts a string option whose value begins with '-' (a base64url key)", () => {
    const key = "-Xk3v9A_bQ1n2m3o4p5q6r7s8t9u0v1w2x3y4z5a6b7";
    const { values } = parse(["--trust-submitter", key, "--dir", "/tmp/x"], options);
    expect(values["trust-submitter"]).toEqual([key]);
    expect(values.dir).toBe("/tmp/x");
  });

  it("does not swallow a following option as a value", () => {
    expect(() => parse(["--dir", "--verbose"], options)).toThrow(UsageError);
    expect(() => parse(["--dir", "-d"], options)).toThrow(UsageError);
    expect(joinDashValues(["--dir", "--verbose"], options)).toEqual(["--dir", "--verbose"]);
  });

  it("leaves everything after -- alone and still refuses unknown options", () => {
    expect(joinDashValues(["--", "--dir", "-x"], options)).toEqual(["--", "--dir", "-x"]);
    expect(() => parse(["--nope"], options)).toThrow(/Unknown option '--nope'/);
  });

  it("takes a job id that begins with '-' as a positional (job watch -1abc…), before or after options", () => {
    const id = "-1QkhKYheS3BQRaw_kcOGj";
    expect(parse([id, "--dir", "x"], options).positionals).toEqual([id]);
    expect(parse(["--verbose", id], options).positionals).toEqual([id]);
    expect(parse(["--dir", id], options).values.dir).toBe(id); // an option's value stays its value
    expect(() => parse([id], options, false)).toThrow(UsageError); // no positionals allowed: still refused
    expect(() => parse(["-zzz"], options)).toThrow(UsageError); // not id-shaped: still an unknown option
  });
});

describe("intOption", () => {
  it("returns an integer in range, undefined when absent, and refuses anything else naming the option", () => {
    expect(intOption("20", "limit", 1, 100)).toBe(20);
    expect(intOption(undefined, "limit", 1, 100)).toBeUndefined();
    for (const bad of ["0", "101", "2.5", "x", ""]) expect(() => intOption(bad, "limit", 1, 100)).toThrow(new UsageError(`--limit must be an integer in [1, 100], got ${JSON.stringify(bad)}`));
    expect(() => intOption("-1", "round", 0, undefined, "a model number")).toThrow(/^--round must be a model number, got "-1"$/);
  });
});

describe("usageError", () => {
  it("is the command's usage line from the help table, as a UsageError (exit 2)", async () => {
    const { HELP, usageError } = await import("../../../client/cli/help.ts");
    const e = usageError("job watch");
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`usage: 2pm job watch ${HELP["job watch"]!.usage}`);
  });
});
