import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterAll, beforeAll } from 'vitest';

/**
 * A temporary folder for a test file (made before its tests, removed after them) that hands out a
 * fresh subfolder per call, so tests sharing the file never see each other's files. Call at the top
 * level of the test file: it registers the hooks.
 */
export function scratchFolder(prefix: string): { readonly root: () => string; fresh(label: string): Promise<string> } {
  let root = '';
  let n = 0;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return {
    root: () => root,
    async fresh(label: string): Promise<string> {
      const dir = path.join(root, `${label}-${n++}`);
      await mkdir(dir, { recursive: true });
      return dir;
    },
  };
}
