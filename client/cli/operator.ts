/** Calls made by job submitters and operators: bearer API token, JSON in and out. */
import { ensureOk } from "../agent/node-client.ts";
import { UsageError } from "./errors.ts";
import type { JobSummary } from "../../protocol/api/schemas.ts";
import { signJobSpec } from "../../protocol/jobs/signed-spec.ts";

export class OperatorClient {
  /**
   * @param submitterSecretKey the submitter's Ed25519 key that signs job specs
   *   ({@link submitJob}); without it the client can read but not submit.
   */
  constructor(readonly baseUrl: string, readonly token: string, private submitterSecretKey?: Uint8Array) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
  }

  /** Sets the key that signs submitted specs. */
  setSubmitterKey(secretKey: Uint8Array): void {
    this.submitterSecretKey = secretKey;
  }

  /**
   * Signs `spec` with the submitter key and submits it (`POST /v1/jobs`). Throws UsageError
   * without a submitter key, the zod error for an invalid spec, CoordinatorError on a non-2xx answer.
   */
  async submitJob(spec: unknown): Promise<JobSummary> {
    if (!this.submitterSecretKey) throw new UsageError("no submitter key: run `2pm submitter init` and pass --submitter-key <file> or set TWOPM_SUBMITTER_KEY");
    return (await this.json<{ job: JobSummary }>("POST", "/v1/jobs", signJobSpec(spec, this.submitterSecretKey))).job;
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
  "submitter-key": { type: "string" },
} as const;
