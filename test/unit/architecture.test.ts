/**
 * The import rules of docs/ARCHITECTURE.md ("Layers"), checked on every .ts/.mjs file of the
 * four code folders with the TypeScript parser (static, type-only and dynamic imports):
 *
 *   functions → durable-objects → protocol;   client → protocol;   protocol → @noble/*, zod
 *
 * plus two documented exceptions, no import of test/, bench/, scripts/ or examples/ from code,
 * and no circle between units (functions, durable-objects, each client/ subfolder, each
 * protocol/ subfolder or root file). Circles between single files are held to a shrinking list.
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const CODE = ["functions", "durable-objects", "client", "protocol"] as const;
type Top = (typeof CODE)[number];

/** Which top-level folders each may import (itself included). */
const MAY_IMPORT: Record<Top, readonly Top[]> = {
  functions: ["functions", "durable-objects", "protocol"],
  "durable-objects": ["durable-objects", "protocol"],
  client: ["client", "protocol"],
  protocol: ["protocol"],
};

/** The exceptions docs/ARCHITECTURE.md names, and why. */
const EXCEPTIONS: Array<{ from: RegExp; to: RegExp; typeOnly?: true; why: string }> = [
  { from: /^functions\//, to: /^client\/fhe\//, why: "the Worker evaluates CKKS with the FHE module, which has no Node-only code" },
  { from: /^client\/api\/client\.ts$/, to: /^functions\/index\.ts$/, typeOnly: true, why: "hc<AppType>: the API client's types come from the routes" },
];

/** npm packages protocol/ may use: it stays pure (no Workers, Node, hono, tfjs or SEAL). */
const PROTOCOL_PACKAGES = /^(@noble\/(hashes|curves|ciphers)\/|zod$)/;

/**
 * Circles between files or units tolerated for now (issue 14 broke the last ones: keep these
 * empty). Any circle not listed fails the test.
 */
const KNOWN_FILE_CIRCLES: string[][] = [];
const KNOWN_UNIT_CIRCLES: string[][] = [];

interface Import { from: string; to: string; typeOnly: boolean }

function codeFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (/\.(ts|mjs)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
    }
  };
  for (const d of CODE) walk(d);
  return out.sort();
}

/** Every module specifier of `file`, with whether only types are imported. */
function importsOf(file: string): Array<{ spec: string; typeOnly: boolean }> {
  const src = ts.createSourceFile(file, readFileSync(path.join(ROOT, file), "utf8"), ts.ScriptTarget.Latest, false);
  const out: Array<{ spec: string; typeOnly: boolean }> = [];
  const visit = (n: ts.Node): void => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      const c = n.importClause;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!c.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly)));
      out.push({ spec: n.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) {
      out.push({ spec: n.moduleSpecifier.text, typeOnly: n.isTypeOnly });
    } else if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteralLike(n.arguments[0])) {
      out.push({ spec: n.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument) && ts.isStringLiteral(n.argument.literal)) {
      out.push({ spec: n.argument.literal.text, typeOnly: true });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

/** The repo-relative target of a relative specifier, or the package name. */
function resolve(from: string, spec: string): string {
  return spec.startsWith(".") ? path.posix.normalize(path.posix.join(path.posix.dirname(from), spec)) : spec;
}

const top = (f: string): string => f.split("/")[0]!;
/** The unit a file belongs to: functions, durable-objects, client/<sub>, protocol/<sub or root file>. */
function unitOf(f: string): string {
  const [t, second] = f.split("/");
  return t === "client" || t === "protocol" ? `${t}/${second}` : t!;
}

/** Strongly connected components with more than one member (Tarjan), each sorted. */
function circles(nodes: Iterable<string>, edges: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), stack: string[] = [], on = new Set<string>();
  const out: string[][] = [];
  const strong = (v: string): void => {
    idx.set(v, index); low.set(v, index++); stack.push(v); on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      for (let w = ""; w !== v;) { w = stack.pop()!; on.delete(w); c.push(w); }
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) strong(v);
  return out.sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** The circles that are not (part of) a known one. */
function unknown(found: string[][], known: string[][]): string[][] {
  return found.filter((c) => !known.some((k) => c.every((m) => k.includes(m))));
}

const files = codeFiles();
const imports: Import[] = files.flatMap((from) => importsOf(from).map(({ spec, typeOnly }) => ({ from, to: resolve(from, spec), typeOnly })));
const local = imports.filter((i) => /^(functions|durable-objects|client|protocol|test|bench|scripts|examples|node_modules)\//.test(i.to));
const excepted = (i: Import): boolean => EXCEPTIONS.some((e) => e.from.test(i.from) && e.to.test(i.to) && (!e.typeOnly || i.typeOnly));

/** A file of a testing module: any path with a `testing/` folder under protocol/. */
const isTesting = (f: string): boolean => /^protocol\/(.+\/)?testing\//.test(f);
/** An import of a testing module (type-only imports included: production code must not depend on its shapes either). */
const importsTesting = (i: Import): boolean => isTesting(i.to);

function graph(key: (f: string) => string): { nodes: Set<string>; edges: Map<string, Set<string>> } {
  const nodes = new Set(files.map(key));
  const edges = new Map<string, Set<string>>();
  for (const i of local) {
    if (!files.includes(i.to)) continue;
    const a = key(i.from), b = key(i.to);
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return { nodes, edges };
}

describe("architecture: imports run one way", () => {
  it("parses every code file and finds its imports", () => {
    expect(files.length).toBeGreaterThan(100);
    expect(local.length).toBeGreaterThan(300);
    expect(imports.some((i) => i.from === "functions/index.ts" && i.to === "durable-objects/job-do.ts")).toBe(true);
  });

  it("every relative import resolves to a file that exists", () => {
    const missing = local.filter((i) => !i.to.startsWith("node_modules/") && !files.includes(i.to) && !/\.(json|wasm)$/.test(i.to));
    expect(missing).toEqual([]);
  });

  it("folders import only the layers below them (functions → durable-objects → protocol; client → protocol)", () => {
    const wrong = local
      .filter((i) => CODE.includes(top(i.to) as Top) && !MAY_IMPORT[top(i.from) as Top].includes(top(i.to) as Top) && !excepted(i))
      .map((i) => `${i.from} → ${i.to}${i.typeOnly ? " (type)" : ""}`);
    expect(wrong).toEqual([]);
  });

  it("code never imports tests, benchmarks, scripts or examples", () => {
    expect(local.filter((i) => /^(test|bench|scripts|examples)\//.test(i.to)).map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it("no production file imports a testing module (protocol/**/testing/**: in-memory runners, fault hooks)", () => {
    expect(local.filter((i) => importsTesting(i) && !isTesting(i.from)).map((i) => `${i.from} → ${i.to}`)).toEqual([]);
    // the check itself: a production importer is caught, a testing module importing another is not
    expect(importsTesting({ from: "client/agent/node.ts", to: "protocol/mascot/testing/transport.ts", typeOnly: true })).toBe(true);
    expect(isTesting("protocol/mascot/testing/transport.ts")).toBe(true);
    expect(isTesting("protocol/mascot/party.ts")).toBe(false);
  });

  it("protocol/ is pure: only @noble/* and zod", () => {
    const bad = imports.filter((i) => i.from.startsWith("protocol/") && !i.to.startsWith("protocol/") && !PROTOCOL_PACKAGES.test(i.to));
    expect(bad.map((i) => `${i.from} → ${i.to}`)).toEqual([]);
  });

  it("no circle between units (functions, durable-objects, client/*, protocol/*) beyond the known ones", () => {
    const { nodes, edges } = graph(unitOf);
    expect(unknown(circles(nodes, edges), KNOWN_UNIT_CIRCLES)).toEqual([]);
  });

  it("no circle between protocol/ subfolders beyond the known ones", () => {
    const { nodes, edges } = graph(unitOf);
    expect(unknown(circles(nodes, edges), KNOWN_UNIT_CIRCLES).filter((c) => c.some((u) => u.startsWith("protocol/")))).toEqual([]);
  });

  it("no circle between files beyond the known ones", () => {
    const { nodes, edges } = graph((f) => f);
    expect(unknown(circles(nodes, edges), KNOWN_FILE_CIRCLES)).toEqual([]);
  });

  it("a wrong-way import and a circle are caught (the checks themselves)", () => {
    const e = new Map([["a", new Set(["b"])], ["b", new Set(["c"])], ["c", new Set(["a"])], ["d", new Set(["a"])]]);
    expect(circles(["a", "b", "c", "d"], e)).toEqual([["a", "b", "c"]]);
    const i: Import = { from: "protocol/log/index.ts", to: "functions/errors.ts", typeOnly: true };
    expect(MAY_IMPORT[top(i.from) as Top].includes(top(i.to) as Top) || excepted(i)).toBe(false);
    expect(excepted({ from: "client/api/client.ts", to: "functions/index.ts", typeOnly: false })).toBe(false);
    expect(unitOf("protocol/encoding.ts")).toBe("protocol/encoding.ts");
    expect(unknown([["a", "b"], ["x", "y", "z"]], [["a", "b", "c"]])).toEqual([["x", "y", "z"]]);
  });
});
