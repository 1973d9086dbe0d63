/**
 * The `info` event's data (the answer to `describe`): one `asr` program, 'stt-engine', with its one
 * Whisper model, laid out as wyoming's Info.event() writes it (every domain list present).
 */
import { readFileSync } from 'node:fs';
import type { WyomingData } from './protocol.js';

/** Whisper's language codes (the multilingual models' <|xx|> tokens, large-v3's 'yue' aside). */
export const WHISPER_LANGUAGES: readonly string[] = [
  'en', 'zh', 'de', 'es', 'ru', 'ko', 'fr', 'ja', 'pt', 'tr', 'pl', 'ca', 'nl', 'ar', 'sv', 'it', 'id', 'hi', 'fi', 'vi',
  'he', 'uk', 'el', 'ms', 'cs', 'ro', 'da', 'hu', 'ta', 'no', 'th', 'ur', 'hr', 'bg', 'lt', 'la', 'mi', 'ml', 'cy', 'sk',
  'te', 'fa', 'lv', 'bn', 'sr', 'az', 'sl', 'kn', 'et', 'mk', 'br', 'eu', 'is', 'hy', 'ne', 'mn', 'bs', 'kk', 'sq', 'sw',
  'gl', 'mr', 'pa', 'si', 'km', 'sn', 'yo', 'so', 'af', 'oc', 'ka', 'be', 'tg', 'sd', 'gu', 'am', 'yi', 'lo', 'uz', 'fo',
  'ht', 'ps', 'tk', 'nn', 'mt', 'sa', 'lb', 'my', 'bo', 'tl', 'mg', 'as', 'tt', 'haw', 'ln', 'ha', 'ba', 'jw', 'su',
];

const LANGUAGES = new Set(WHISPER_LANGUAGES);

/**
 * A client's language ('fr', 'fr-FR', 'fr_CA') as a Whisper code, or null when Whisper has none
 * (the server's default language is used then).
 */
export function whisperLanguage(language: string | null): string | null {
  if (language === null) return null;
  if (language === 'auto') return 'auto';
  const base = language.split(/[-_]/u)[0]?.toLowerCase() ?? '';
  return LANGUAGES.has(base) ? base : null;
}

export interface InfoOptions {
  /** The model's name as clients may ask for it in `transcribe` (e.g. 'base'). */
  readonly modelName: string;
  readonly modelVersion: string | null;
  /** The server's default language first ('auto' lists every language in Whisper's order). */
  readonly language: string;
  /** Whether the server ends requests at the end of speech itself (`--vad-endpoint`). */
  readonly vadEndpoint: boolean;
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export function buildInfo(options: InfoOptions): WyomingData {
  const languages = options.language === 'auto' ? [...WHISPER_LANGUAGES] : [options.language, ...WHISPER_LANGUAGES.filter((l) => l !== options.language)];
  const model = {
    name: options.modelName,
    attribution: { name: 'OpenAI (ONNX export: onnx-community)', url: `https://huggingface.co/onnx-community/whisper-${options.modelName}` },
    installed: true,
    description: `Whisper ${options.modelName} on onnxruntime-node`,
    version: options.modelVersion,
    languages,
  };
  const program = {
    name: 'stt-engine',
    attribution: { name: 'stt-engine', url: 'https://github.com/openai/whisper' },
    installed: true,
    description: 'Local French-first speech-to-text: Whisper on onnxruntime-node, streaming partials',
    version: packageVersion(),
    models: [model],
    supports_transcript_streaming: true,
    requires_external_vad: !options.vadEndpoint,
    prefers_auto_gain_enabled: true,
    prefers_noise_reduction_enabled: true,
  };
  return { asr: [program], tts: [], handle: [], intent: [], wake: [], mic: [], snd: [] };
}
