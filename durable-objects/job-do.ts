import { DurableObject } from "cloudflare:workers";
export class JobDO extends DurableObject {}
