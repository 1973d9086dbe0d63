/**
 * Phantom phrases: what Whisper writes over silence, music or noise. The models were trained on
 * subtitled video, where silent stretches carry credits and sign-offs ("Sous-titres réalisés par la
 * communauté d'Amara.org", "Thanks for watching!"), so a decode of non-speech often produces one
 * of them verbatim. The list gathers the ones reported again and again (openai/whisper discussions
 * #928 and #1606, faster-whisper issues on hallucinations, and our own French corpus runs).
 *
 * Matching is on normalised word tokens (case, accents, punctuation and spacing ignored):
 * - a whole utterance that is a phantom phrase is rejected;
 * - a `trailing` phrase appended to real speech is stripped. Only long, unambiguous phrases are
 *   trailing: "merci" at the end of a command is polite French, not a hallucination;
 * - a `prefix` entry is a credit line followed by a name ("Sous-titres par Jean Dupont"): it
 *   matches when the text starts with it and at most MAX_NAME_TOKENS tokens follow.
 */

export interface PhantomPhrase {
  readonly text: string;
  /** Also stripped when it ends real speech. */
  readonly trailing: boolean;
  /** Followed by a name (a few words) in the wild. */
  readonly prefix: boolean;
}

const phrase = (text: string, trailing: boolean, prefix = false): PhantomPhrase => ({ text, trailing, prefix });

export const BUILT_IN_PHANTOMS: readonly PhantomPhrase[] = [
  // French subtitle credits (Amara community, Radio-Canada, the ST' 501 crew).
  phrase("Sous-titres réalisés par la communauté d'Amara.org", true),
  phrase("Sous-titres réalisés para la communauté d'Amara.org", true),
  phrase("Sous-titrage réalisé par la communauté d'Amara.org", true),
  phrase('Sous-titrage Société Radio-Canada', true),
  phrase("Sous-titrage ST' 501", true),
  phrase('Sous-titrage FR', true),
  phrase('Sous-titres par', true, true),
  phrase('Sous-titrage par', true, true),
  phrase('Sous-titres réalisés par', true, true),
  phrase('Transcription par', true, true),
  phrase('Traduction par', true, true),
  // French sign-offs of video channels.
  phrase("Merci d'avoir regardé cette vidéo", true),
  phrase("Merci d'avoir regardé", true),
  phrase('Merci de votre attention', false),
  phrase("N'oubliez pas de vous abonner", true),
  phrase("N'oubliez pas de vous abonner à la chaîne", true),
  phrase('Abonnez-vous', true),
  phrase('Abonnez-vous à la chaîne', true),
  phrase('Merci', false),
  phrase('Merci beaucoup', false),
  // English credits and sign-offs (the model drifts to English on noise even when asked for French).
  phrase('Subtitles by the Amara.org community', true),
  phrase('Thanks for watching', true),
  phrase('Thank you for watching', true),
  phrase('Please subscribe', true),
  phrase('Like and subscribe', true),
  phrase("Don't forget to like and subscribe", true),
  phrase('Subtitles by', true, true),
  phrase('Thank you', false),
  phrase('Thank you very much', false),
  phrase('you', false),
];

/** A credit line's name: enough for "Jean-Pierre de la Tour", not for a real sentence. */
export const MAX_NAME_TOKENS = 4;

export interface TextToken {
  /** Lower-cased, accents removed. */
  readonly norm: string;
  /** Position of the token in the display text. */
  readonly start: number;
  readonly end: number;
}

const TOKEN = /[\p{L}\p{N}]+/gu;

/** Word tokens of a display text: runs of letters and digits, folded for comparison. */
export function textTokens(text: string): TextToken[] {
  const tokens: TextToken[] = [];
  for (const m of text.matchAll(TOKEN)) {
    const norm = m[0].normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
    tokens.push({ norm, start: m.index, end: m.index + m[0].length });
  }
  return tokens;
}

interface CompiledPhantom {
  readonly tokens: readonly string[];
  readonly trailing: boolean;
  readonly prefix: boolean;
}

export type BlocklistMatch =
  | { readonly kind: 'none' }
  | { readonly kind: 'whole'; readonly phrase: string }
  /** Real speech then a phantom from `cutAt` on (an index in the display text). */
  | { readonly kind: 'trailing'; readonly phrase: string; readonly cutAt: number };

export class Blocklist {
  readonly #phantoms: readonly (CompiledPhantom & { readonly text: string })[];

  constructor(extra: readonly string[] = []) {
    const all = [...BUILT_IN_PHANTOMS, ...extra.map((text) => phrase(text, false))];
    this.#phantoms = all
      .map((p) => ({ ...p, tokens: textTokens(p.text).map((t) => t.norm) }))
      .filter((p) => p.tokens.length > 0)
      // Longest first, so the trailing strip removes the whole credit, not its last words.
      .sort((a, b) => b.tokens.length - a.tokens.length);
  }

  match(text: string): BlocklistMatch {
    const tokens = textTokens(text);
    const norms = tokens.map((t) => t.norm);
    for (const p of this.#phantoms) {
      if (matchesAt(norms, 0, p)) return { kind: 'whole', phrase: p.text };
    }
    for (const p of this.#phantoms) {
      if (!p.trailing) continue;
      const lowest = Math.max(1, norms.length - p.tokens.length - (p.prefix ? MAX_NAME_TOKENS : 0));
      for (let from = lowest; from <= norms.length - p.tokens.length; from++) {
        const at = tokens[from];
        if (at !== undefined && matchesAt(norms, from, p)) return { kind: 'trailing', phrase: p.text, cutAt: at.start };
      }
    }
    return { kind: 'none' };
  }
}

/** Whether norms[from..] is exactly the phrase (or, for a prefix entry, the phrase plus a short name). */
function matchesAt(norms: readonly string[], from: number, p: CompiledPhantom): boolean {
  const rest = norms.length - from;
  if (rest < p.tokens.length) return false;
  if (rest > p.tokens.length + (p.prefix ? MAX_NAME_TOKENS : 0)) return false;
  for (let k = 0; k < p.tokens.length; k++) if (norms[from + k] !== p.tokens[k]) return false;
  return true;
}
