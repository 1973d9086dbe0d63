#!/usr/bin/env node
/**
 * Opt-in CUDA setup: `npm run setup:cuda`.
 *
 * onnxruntime-node ships its CPU build inside the npm package; the CUDA execution provider
 * (libonnxruntime_providers_{cuda,shared,tensorrt}.so) is too large for the npm registry, so the
 * package's own install script fetches it from NuGet (Microsoft.ML.OnnxRuntime.Gpu.Linux). Normal
 * installs skip that script (.npmrc: onnxruntime-node-install=skip) so nobody downloads ~hundreds of MB
 * they do not use. This script runs that same install script with ONNXRUNTIME_NODE_INSTALL=cuda12,
 * the value the script reads to select the CUDA 12 binaries. CUDA 12 and cuDNN 9 must be installed
 * on the machine for the provider to load; without them the engine warns and falls back to the CPU.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`setup-cuda: onnxruntime-node publishes CUDA binaries for linux/x64 only (this is ${process.platform}/${process.arch}).`);
  process.exit(1);
}

let packageDir;
try {
  packageDir = path.dirname(require.resolve('onnxruntime-node/package.json'));
} catch {
  console.error('setup-cuda: onnxruntime-node is not installed; run `npm install` first.');
  process.exit(1);
}
const installScript = path.join(packageDir, 'script', 'install.js');
if (!existsSync(installScript)) {
  console.error(`setup-cuda: ${installScript} not found; this onnxruntime-node version has no CUDA installer.`);
  process.exit(1);
}
const binDir = path.join(packageDir, 'bin', 'napi-v6', 'linux', 'x64');
const cudaProvider = path.join(binDir, 'libonnxruntime_providers_cuda.so');

console.log(`setup-cuda: running ${installScript} with ONNXRUNTIME_NODE_INSTALL=cuda12`);
console.log('setup-cuda: it downloads Microsoft.ML.OnnxRuntime.Gpu.Linux from NuGet into');
console.log(`            ${binDir}`);
const result = spawnSync(process.execPath, [installScript], {
  cwd: packageDir,
  stdio: 'inherit',
  env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' },
});
if (result.status !== 0) {
  console.error(`setup-cuda: the onnxruntime-node installer failed (exit ${result.status ?? result.signal}).`);
  process.exit(1);
}
if (!existsSync(cudaProvider)) {
  console.error(`setup-cuda: the installer finished but ${cudaProvider} is missing.`);
  process.exit(1);
}
console.log(`setup-cuda: installed ${cudaProvider}`);
console.log('setup-cuda: use --device cuda (or cuda:N); add --strict-device to fail instead of falling back to cpu.');
