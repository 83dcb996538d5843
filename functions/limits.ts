/** Request body size limits. */
import { bodyLimit } from "hono/body-limit";
import { JOB_LIMITS } from "../protocol/jobs/limits.ts";
import { ApiError } from "./errors.ts";

/** JSON bodies (registrations, heartbeats, job specs). */
export const JSON_LIMIT = 64 * 1024;
/**
 * Model artifacts uploaded to R2: a global model of the largest size a job may have (8 bytes
 * per parameter, protocol/learning/codec.ts, plus its header; protocol/jobs/limits.ts).
 */
export const MODEL_LIMIT = 8 * JOB_LIMITS.maxModelParameters + 1024;

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
