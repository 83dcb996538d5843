/**
 * Setup of the `node` test project: every test file runs the MASCOT primitives on node:crypto
 * (AES-128-CTR for the PRG streams, AES-ECB for the fixed-key π, SHA-256), as a node's party
 * thread does (client/agent/party-aes.ts installNodeAes). The portable path (@noble AES and
 * SHA-256, WebCrypto prefetch: what a browser node runs) gives the same bytes; the files that
 * test it call `uninstallNodeAes()` first: party-aes, prg-commit-coin, receive-async and
 * validated (a whole validated round on the portable path), and the browser e2e runs it for real.
 */
import { installNodeAes } from "../../client/agent/party-aes.ts";

installNodeAes();
