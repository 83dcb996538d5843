/** Argument parsing on top of node:util parseArgs, turning its errors into UsageError. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./errors.ts";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Every spelling of the defined options (`--name`, `-s`). */
function optionFlags(options: Options): Set<string> {
  return new Set(Object.entries(options).flatMap(([name, o]) => (o.short ? [`--${name}`, `-${o.short}`] : [`--${name}`])));
}

/**
 * Joins `--name value` into `--name=value` for string options whose value begins with "-"
 * (a base64url key does one time in 64) and is not itself one of the defined options, so
 * such values parse instead of being refused as "ambiguous". Everything after `--` is left
 * alone. Pure; never throws.
 */
export function joinDashValues(args: string[], options: Options): string[] {
  const flags = optionFlags(options).add("--");
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

/** A job id (16 random bytes, base64url: 22 characters) may begin with "-". */
const DASH_ID = /^-[A-Za-z0-9_-]{21}$/;

/**
 * Moves positionals that begin with "-" (job ids, one time in 64) after a `--`, so they parse
 * as positionals instead of being refused as unknown options. Only tokens shaped like an id
 * that are neither a defined option nor the value of the string option before them are moved.
 * Pure; never throws.
 */
export function protectDashPositionals(args: string[], options: Options): string[] {
  const flags = optionFlags(options);
  const keep: string[] = [], moved: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") { keep.push(...args.slice(i)); break; }
    const prev = args[i - 1];
    const prevTakesValue = prev !== undefined && prev.startsWith("--") && !prev.includes("=") && options[prev.slice(2)]?.type === "string";
    if (DASH_ID.test(a) && !flags.has(a) && !prevTakesValue) moved.push(a);
    else keep.push(a);
  }
  if (!moved.length) return args;
  return keep.includes("--") ? [...keep, ...moved] : [...keep, "--", ...moved];
}

/**
 * Parses `args` strictly against `options`. Throws UsageError (one line) for an unknown
 * option, a missing value or a positional where none is allowed.
 */
export function parse<T extends Options>(args: string[], options: T, allowPositionals = true) {
  try {
    const joined = joinDashValues(args, options);
    return parseArgs({ args: allowPositionals ? protectDashPositionals(joined, options) : joined, options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split("\n")[0]!);
  }
}

/** Returns a required string option or throws UsageError naming it. */
export function required(value: string | boolean | undefined | (string | boolean)[], name: string): string {
  if (typeof value !== "string" || value === "") throw new UsageError(`missing --${name}`);
  return value;
}

/**
 * An integer option in [min, max], undefined when absent. Throws UsageError
 * `--<name> must be <what>, got "<value>"` (what: "an integer in [min, max]" by default).
 */
export function intOption(value: string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER, what = `an integer in [${min}, ${max}]`): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be ${what}, got ${JSON.stringify(value)}`);
  return n;
}
