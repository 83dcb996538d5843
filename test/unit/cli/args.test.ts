import { describe, expect, it } from "vitest";
import { joinDashValues, parse } from "../../../client/cli/args.ts";
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
