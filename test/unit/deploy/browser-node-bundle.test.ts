/** The committed browser node bundles (functions/node-page/bundle.ts) are the build of their sources. */
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { buildBrowserNodeScripts, buildQuerierScript, scriptHash, SEAL_WASM } from "../../../scripts/build-browser-node.ts";
import { NODE_LEARNING_SCRIPT, NODE_PAGE_SCRIPT, QUERIER_PAGE_SCRIPT } from "../../../functions/node-page/bundle.ts";
import { SEAL_WASM_BASE64 } from "../../../functions/node-page/seal-wasm.ts";

describe("browser node bundle", () => {
  it("is up to date with client/browser, client/agent, client/data, client/api, client/learning and protocol (else run `npx tsx scripts/build-browser-node.ts`)", async () => {
    const built = await buildBrowserNodeScripts();
    expect(built.page === NODE_PAGE_SCRIPT).toBe(true);
    expect(built.learning === NODE_LEARNING_SCRIPT).toBe(true);
    expect((await buildQuerierScript()) === QUERIER_PAGE_SCRIPT).toBe(true);
    expect(SEAL_WASM_BASE64 === Buffer.from(readFileSync(SEAL_WASM)).toString("base64")).toBe(true); // node-seal upgraded: rebuild
  }, 120_000);

  it("the querier script carries the FHE client and node-seal's glue, not tfjs or the node agent", () => {
    expect(QUERIER_PAGE_SCRIPT.includes("application/vnd.2pm.fhe+binary")).toBe(true); // the FHE wire format
    expect(QUERIER_PAGE_SCRIPT.includes("createRelinKeysSerializable")).toBe(true); // SEAL key generation
    expect(/tensorflow|maccheck/i.test(QUERIER_PAGE_SCRIPT)).toBe(false);
    expect(/<\/script/i.test(QUERIER_PAGE_SCRIPT)).toBe(false);
  });

  it("the page script carries the agent, the MASCOT party and the relay, not tfjs", () => {
    expect(NODE_PAGE_SCRIPT.includes("2pm/view/v1")).toBe(true); // the agent's view hash
    expect(NODE_PAGE_SCRIPT.includes("maccheck.commit")).toBe(true); // the MASCOT MAC check
    expect(NODE_PAGE_SCRIPT.includes("2pm/relay/v1")).toBe(true); // relay pair keys
    expect(NODE_PAGE_SCRIPT.includes("2pm/dataset/v1")).toBe(true); // the dataset commitment
    expect(/tensorflow|tfjs-core|webgl/i.test(NODE_PAGE_SCRIPT)).toBe(false);
    expect(NODE_PAGE_SCRIPT.includes(JSON.stringify(scriptHash(NODE_LEARNING_SCRIPT)))).toBe(true); // its SRI value
    expect(/<\/script/i.test(NODE_PAGE_SCRIPT)).toBe(false);
  });

  it("no served script calls the non-cryptographic Math.random: bundled tfjs draws from crypto.getRandomValues", () => {
    for (const script of [NODE_PAGE_SCRIPT, NODE_LEARNING_SCRIPT, QUERIER_PAGE_SCRIPT]) {
      expect(script.includes("Math.random")).toBe(false);
      expect(script.startsWith("var __2pmCsprngRandom=function(){return crypto.getRandomValues(")).toBe(true);
    }
    expect(NODE_LEARNING_SCRIPT.includes("__2pmCsprngRandom()")).toBe(true); // tfjs's calls were rewritten, not dropped
  });

  it("the learning bundle has tfjs on the cpu backend only", () => {
    expect(NODE_LEARNING_SCRIPT.includes("__2pmLearning")).toBe(true);
    expect(NODE_LEARNING_SCRIPT.includes("PolyActivation")).toBe(true);
    expect(/WEBGL_VERSION|WebGLRenderingContext/.test(NODE_LEARNING_SCRIPT)).toBe(false);
    expect(NODE_LEARNING_SCRIPT.length).toBeLessThan(1_200_000);
  });
});
