/**
 * OpenSSL's ChaCha20-Poly1305 (node:crypto) as the envelopes' XChaCha20-Poly1305 for node
 * processes (protocol/crypto/envelope.ts setNativeXChaCha20Poly1305): XChaCha20 is
 * ChaCha20-Poly1305 (RFC 8439) under the HChaCha20 subkey of (key, nonce[0..16]) with the
 * 12-byte nonce 0⁴ ‖ nonce[16..24] (draft-irtf-cfrg-xchacha), so the bytes equal noble's.
 * HChaCha20 (one block function, no stream) stays noble's.
 */
import { createCipheriv, createDecipheriv } from "node:crypto";
import { hchacha } from "@noble/ciphers/chacha.js";
import type { XChaChaAead } from "../../protocol/crypto/envelope.ts";

const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]); // "expand 32-byte k"
const TAG = 16;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function words(bytes: Uint8Array): Uint32Array {
  const out = new Uint32Array(bytes.length / 4);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < out.length; i++) out[i] = dv.getUint32(4 * i, true);
  return out;
}

function subkeyAndIv(key: Uint8Array, nonce: Uint8Array): { subkey: Buffer; iv: Buffer } {
  if (key.length !== 32) throw new RangeError(`xchacha20poly1305: key must be 32 bytes, got ${key.length}`);
  if (nonce.length !== 24) throw new RangeError(`xchacha20poly1305: nonce must be 24 bytes, got ${nonce.length}`);
  const out = new Uint32Array(8);
  hchacha(SIGMA, words(key), words(nonce.subarray(0, 16)), out);
  const subkey = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) subkey.writeUInt32LE(out[i]!, 4 * i);
  const iv = Buffer.alloc(12);
  iv.set(nonce.subarray(16, 24), 4);
  return { subkey, iv };
}

/** XChaCha20-Poly1305 over node:crypto, the same interface and bytes as noble's `xchacha20poly1305(key, nonce, ad)`; `decrypt` throws on a bad tag or a short input. */
export function nodeXChaCha20Poly1305(key: Uint8Array, nonce: Uint8Array, ad: Uint8Array): XChaChaAead {
  if (!LITTLE_ENDIAN) throw new Error("native-xchacha: little-endian hosts only");
  const { subkey, iv } = subkeyAndIv(key, nonce);
  return {
    encrypt(plaintext) {
      const c = createCipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG });
      c.setAAD(ad, { plaintextLength: plaintext.length });
      const head = c.update(plaintext), tail = c.final(), tag = c.getAuthTag();
      const out = new Uint8Array(head.length + tail.length + TAG);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(tag, head.length + tail.length);
      return out;
    },
    decrypt(ciphertext) {
      if (ciphertext.length < TAG) throw new Error("xchacha20poly1305: ciphertext shorter than its tag");
      const body = ciphertext.subarray(0, ciphertext.length - TAG);
      const d = createDecipheriv("chacha20-poly1305", subkey, iv, { authTagLength: TAG });
      d.setAAD(ad, { plaintextLength: body.length });
      d.setAuthTag(ciphertext.subarray(ciphertext.length - TAG));
      const head = d.update(body), tail = d.final(); // final() throws on a bad tag
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    },
  };
}
