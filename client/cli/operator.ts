/** Calls made by job submitters and operators: bearer API token, JSON in and out. */
import { ensureOk } from "../agent/node-client.ts";
import { UsageError } from "./errors.ts";

export class OperatorClient {
  constructor(readonly baseUrl: string, private readonly token: string) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  /** Sends a request with the bearer token; rejects with CoordinatorError on a non-2xx answer. */
  async request(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    return ensureOk(await fetch(this.baseUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }
}

/** Builds the client from --coordinator/--token or TWOPM_COORDINATOR/TWOPM_API_TOKEN. */
export function operatorFrom(values: { coordinator?: string | boolean; token?: string | boolean }): OperatorClient {
  const url = typeof values.coordinator === "string" ? values.coordinator : process.env.TWOPM_COORDINATOR;
  const token = typeof values.token === "string" ? values.token : process.env.TWOPM_API_TOKEN;
  if (!url) throw new UsageError("no coordinator: pass --coordinator or set TWOPM_COORDINATOR");
  if (!token) throw new UsageError("no API token: pass --token or set TWOPM_API_TOKEN");
  return new OperatorClient(url, token);
}

export const operatorOptions = {
  coordinator: { type: "string" },
  token: { type: "string" },
} as const;
