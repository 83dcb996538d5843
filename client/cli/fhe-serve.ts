/**
 * `2pm fhe serve [--host 127.0.0.1] [--port 8791] [--token T] [--max-key-bytes B]
 *  [--max-key-sets n] [--max-total-key-bytes B] [--max-block-bytes B]`
 *
 * The untrusted compute process of encrypted training (client/fhe/training/serve.ts,
 * docs/fhe.md "Training on encrypted data"): holds uploaded public key sets and runs blocks of
 * iterations for `2pm fhe train --server <url>`. Bound to 127.0.0.1 unless --host says
 * otherwise; the bearer token comes from --token or TWOPM_FHE_TOKEN (never printed). Prints
 * `fhe serve: listening on <url>` on stdout once it accepts connections, one line per request
 * on stderr, and stops on SIGINT / SIGTERM.
 */
import { intOption, parse } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { jsonOption, outputFor } from "./output.ts";

function bytesOpt(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)([KMG]i?B?)?$/i.exec(v.trim());
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
  const n = m ? Number(m[1]) * (m[2] ? mult[m[2][0]!.toLowerCase()]! : 1) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive size in bytes (e.g. 512MiB), got ${JSON.stringify(v)}`);
  return n;
}

export async function fheServe(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string", default: "8791" },
      token: { type: "string" },
      "max-key-bytes": { type: "string" },
      "max-total-key-bytes": { type: "string" },
      "max-key-sets": { type: "string" },
      "max-block-bytes": { type: "string" },
      ...jsonOption,
    },
    false,
  );
  const port = intOption(values.port, "port", 0, 65535)!;
  const token = values.token ?? process.env.TWOPM_FHE_TOKEN;
  if (!token) throw new UsageError("missing --token (or TWOPM_FHE_TOKEN): the server refuses requests without a bearer token");
  if (token.length < 16) throw new UsageError("the token must be at least 16 characters");
  const maxSets = intOption(values["max-key-sets"], "max-key-sets", 1, undefined, "a positive integer");
  const limits = {
    ...(values["max-key-bytes"] !== undefined && { maxSetBytes: bytesOpt(values["max-key-bytes"], "max-key-bytes") }),
    ...(values["max-total-key-bytes"] !== undefined && { maxTotalBytes: bytesOpt(values["max-total-key-bytes"], "max-total-key-bytes") }),
    ...(maxSets !== undefined && { maxSets }),
  };
  const maxBlockBytes = bytesOpt(values["max-block-bytes"], "max-block-bytes");

  const { createTrainServe } = await import("../fhe/training/serve.ts");
  const s = createTrainServe({ token, limits, maxBlockBytes, log: (l) => process.stderr.write(`fhe serve: ${l}\n`) });
  await new Promise<void>((resolve, reject) => {
    s.server.once("error", (e: NodeJS.ErrnoException) => reject(new CliError(`cannot listen on ${values.host}:${port}: ${e.code ?? e.message}`)));
    s.server.listen(port, values.host, () => resolve());
  });
  const addr = s.server.address();
  const shown = typeof addr === "object" && addr ? (addr.family === "IPv6" ? `[${addr.address}]` : addr.address) : values.host;
  const url = `http://${shown}:${typeof addr === "object" && addr ? addr.port : port}`;
  const l = s.store.limits;
  outputFor(values).result({ listening: url }, `fhe serve: listening on ${url}`);
  process.stderr.write(`fhe serve: key sets ≤ ${l.maxSetBytes} B each, ≤ ${l.maxSets} sets, ≤ ${l.maxTotalBytes} B in all; block requests ≤ ${maxBlockBytes ?? 2 ** 28} B; one block at a time\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  await s.close();
  return 0;
}

export const fheServeCommands = { "fhe serve": fheServe };
