// wrangler / vitest-pool-workers import `.wasm` files as compiled WebAssembly modules.
declare module "*/seal_throws.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
