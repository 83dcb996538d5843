/**
 * The browser node's tfjs: what `@tensorflow/tfjs` exports that client/learning uses (core
 * with gradients and chained ops, layers) and only the cpu backend, the one
 * client/learning/tf.ts selects. scripts/build-browser-node.ts aliases `@tensorflow/tfjs` to
 * this module in the learning bundle (no WebGL backend, converter or data API).
 */
import "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import "@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops";
import "@tensorflow/tfjs-backend-cpu";
export * from "@tensorflow/tfjs-core";
export * from "@tensorflow/tfjs-layers";
