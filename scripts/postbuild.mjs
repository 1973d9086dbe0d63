// Make the CLI entry executable after tsc (tsc keeps the shebang but not the mode bit).
import { chmodSync, cpSync, existsSync } from 'node:fs';

const entry = new URL('../dist/main.js', import.meta.url);
if (existsSync(entry)) chmodSync(entry, 0o755);

// The inspector's page (plain HTML/CSS/JS, no build step) ships inside dist, beside its server.
cpSync(new URL('../src/inspector/public/', import.meta.url), new URL('../dist/inspector/public/', import.meta.url), { recursive: true });
