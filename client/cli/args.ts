/** Argument parsing on top of node:util parseArgs, turning its errors into UsageError. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

export function parse<T extends NonNullable<ParseArgsConfig["options"]>>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
}

/** Returns a required string option or throws UsageError naming it. */
export function required(value: string | boolean | undefined | (string | boolean)[], name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`missing --${name}`);
  return value;
}
