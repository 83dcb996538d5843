import { describe, expect, it } from "vitest";
import { optArg, strArg } from "../../../bench/args.ts";

describe("bench options", () => {
  it("reads --name value and --name=value, and nothing else", () => {
    expect(optArg(["--d=1000,10000", "--n", "3"], "d")).toBe("1000,10000");
    expect(optArg(["--d=1000,10000", "--n", "3"], "n")).toBe("3");
    expect(optArg(["--nodes", "--jobs", "2"], "nodes")).toBeUndefined(); // no value
    expect(optArg(["--nodes"], "nodes")).toBeUndefined();
    expect(optArg(["--node-bin", "x"], "node")).toBeUndefined(); // not a prefix match
    expect(strArg([], "rounds", "4")).toBe("4");
    expect(strArg(["--rounds", "2"], "rounds", "4")).toBe("2");
  });
});
