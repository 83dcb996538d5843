import { DurableObject } from "cloudflare:workers";
export class RoundDO extends DurableObject {}
