/** Request body size limits. */
import { bodyLimit } from "hono/body-limit";
import { ApiError } from "./errors.ts";

/** JSON bodies (registrations, heartbeats, job specs). */
export const JSON_LIMIT = 64 * 1024;
/** Model artifacts uploaded to R2. */
export const MODEL_LIMIT = 64 * 1024 * 1024;

export const jsonLimit = bodyLimit({
  maxSize: JSON_LIMIT,
  onError: () => {
    throw new ApiError(413, "payload-too-large", `JSON bodies are limited to ${JSON_LIMIT} bytes`);
  },
});

export const modelLimit = bodyLimit({
  maxSize: MODEL_LIMIT,
  onError: () => {
    throw new ApiError(413, "payload-too-large", `models are limited to ${MODEL_LIMIT} bytes`);
  },
});
