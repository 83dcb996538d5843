/** The CLI's client for job submitters and operators: the one API client (client/api) with the bearer token. */
import { ApiClient } from "../api/client.ts";
import { UsageError } from "./errors.ts";

/** Builds the client from --coordinator/--token or TWOPM_COORDINATOR/TWOPM_API_TOKEN. */
export function operatorFrom(values: { coordinator?: string | boolean; token?: string | boolean }): ApiClient {
  const url = typeof values.coordinator === "string" ? values.coordinator : process.env.TWOPM_COORDINATOR;
  const token = typeof values.token === "string" ? values.token : process.env.TWOPM_API_TOKEN;
  if (!url) throw new UsageError("no coordinator: pass --coordinator or set TWOPM_COORDINATOR");
  if (!token) throw new UsageError("no API token: pass --token or set TWOPM_API_TOKEN");
  return new ApiClient({ baseUrl: url, token });
}

export const operatorOptions = {
  coordinator: { type: "string" },
  token: { type: "string" },
  "submitter-key": { type: "string" },
} as const;
