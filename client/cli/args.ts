/** Argument parsing on top of node:util parseArgs, turning its errors into UsageError. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Joins `--name value` into `--name=value` for string options whose value begins with "-"
 * (a base64url key does one time in 64) and is not itself one of the defined options, so
 * such values parse instead of being refused as "ambiguous". Everything after `--` is left
 * alone. Pure; never throws.
 */
export function joinDashValues(args: string[], options: Options): string[] {
  const flags = new Set<string>(["--"]);
  for (const [name, o] of Object.entries(options)) {
    flags.add(`--${name}`);
    if (o.short) flags.add(`-${o.short}`);
  }
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") { out.push(...args.slice(i)); break; }
    const next = args[i + 1];
    const name = a.startsWith("--") && !a.includes("=") ? a.slice(2) : undefined;
    if (name !== undefined && options[name]?.type === "string" && next !== undefined && next.startsWith("-") && next !== "-"
        && !flags.has(next) && !flags.has(next.split("=")[0]!)) {
      out.push(`${a}=${next}`);
      i++;
    } else {
      out.push(a);
    }
  }
  return out;
}

/**
 * Parses `args` strictly against `options`. Throws UsageError (one line) for an unknown
 * option, a missing value or a positional where none is allowed.
 */
export function parse<T extends Options>(args: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: joinDashValues(args, options), options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
}

/** Returns a required string option or throws UsageError naming it. */
export function required(value: string | boolean | undefined | (string | boolean)[], name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`missing --${name}`);
  return value;
}
