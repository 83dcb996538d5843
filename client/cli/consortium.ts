/**
 * `2pm consortium init | sign | verify`: the consortium admin's membership list. The admin
 * key is made once (`init`); `sign` turns a members file (`[{ "identityKey": "...", "label":
 * "..." }]`, the identity keys `2pm node init` prints) into a signed list, distributed to
 * nodes out of band together with the admin's public key. A node whose policy names the list
 * takes part only in committees whose every member is on it.
 */
import { promises as fs } from "node:fs";
import { parse, required } from "./args.ts";
import { CliError, UsageError } from "./errors.ts";
import { createKeyFile, loadKeyFile } from "./keyfile.ts";
import { usageError } from "./help.ts";
import { jsonOption, outputFor } from "./output.ts";
import { signConsortium, verifyConsortium } from "../../protocol/consortium.ts";

async function readJson(file: string): Promise<unknown> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8"));
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

async function init(args: string[]): Promise<number> {
  const { values } = parse(args, { out: { type: "string" }, ...jsonOption }, false);
  const key = await createKeyFile(required(values.out, "out"), "2pm-consortium-admin-key");
  outputFor(values).result({ file: values.out, publicKey: key.publicKeyB64 }, `admin key written to ${values.out} (mode 0600); public key ${key.publicKeyB64}`);
  return 0;
}

async function signList(args: string[]): Promise<number> {
  const { values } = parse(args, { admin: { type: "string" }, members: { type: "string" }, name: { type: "string" }, out: { type: "string" }, ...jsonOption }, false);
  const admin = await loadKeyFile(required(values.admin, "admin"), "2pm-consortium-admin-key");
  const members = await readJson(required(values.members, "members"));
  if (!Array.isArray(members)) throw new CliError(`${values.members}: expected a JSON array of { identityKey, label? }`);
  let signed;
  try {
    signed = signConsortium({ version: 1, kind: "2pm-consortium", name: required(values.name, "name"), issuedAt: Date.now(), members }, admin.secretKey);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const issue = (e as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues?.[0];
    throw new CliError(`members: ${issue ? `${issue.path.map(String).join(".")}: ${issue.message}` : (e as Error).message}`);
  }
  await fs.writeFile(required(values.out, "out"), JSON.stringify(signed, null, 2) + "\n");
  outputFor(values).result({ file: values.out, name: signed.list.name, members: signed.list.members.length }, `signed list "${signed.list.name}" with ${signed.list.members.length} members written to ${values.out}`);
  return 0;
}

async function verifyList(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { "admin-key": { type: "string" }, ...jsonOption });
  if (positionals.length !== 1) throw usageError("consortium verify");
  try {
    const m = verifyConsortium(await readJson(positionals[0]!), required(values["admin-key"], "admin-key"));
    outputFor(values).result({ valid: true, name: m.name, members: m.size, issuedAt: m.issuedAt }, `valid: "${m.name}", ${m.size} members, issued ${new Date(m.issuedAt).toISOString()}`);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new CliError((e as Error).message);
  }
}

export const consortiumCommands = {
  "consortium init": init,
  "consortium sign": signList,
  "consortium verify": verifyList,
} satisfies Record<string, (args: string[]) => Promise<number>>;
