// Make the CLI entry executable after tsc (tsc keeps the shebang but not the mode bit).
import { chmodSync, existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (existsSync(entry)) chmodSync(entry, 0o755);
