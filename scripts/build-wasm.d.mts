// Types of build-wasm.mjs, so the TypeScript unit test checks its calls under `strict`.

/** The WebAssembly module's bytes for a .wat source (wabt, SIMD enabled), validated. */
export function assemble(source: string): Promise<Buffer>;
/** The generated row-kernels.wasm.ts for those bytes. */
export function render(bytes: Buffer): string;
