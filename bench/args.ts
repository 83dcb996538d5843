/** Command-line options of the benchmarks: `--name value` and `--name=value` alike. */

/** The value of option `--name`, or undefined when it is absent or has no value. */
export function optArg(args: readonly string[], name: string): string | undefined {
  const eq = args.find((a) => a.startsWith(`--${name}=`));
  if (eq !== undefined) return eq.slice(name.length + 3);
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : undefined;
  return v !== undefined && !v.startsWith("--") ? v : undefined;
}

/** The value of option `--name`, or `dflt`. */
export function strArg(args: readonly string[], name: string, dflt: string): string {
  return optArg(args, name) ?? dflt;
}
