/**
 * The language-independent steps of transcript normalisation: Unicode folding, apostrophes,
 * dashes and punctuation. The French and English normalisers run these around their own number
 * and filler rules.
 */

export interface NormalizeOptions {
  /**
   * Drop hesitation fillers (euh, ben, um, uh…). Default true: the references disagree on them
   * (SPPAS and MFA transcribe every "euh"/"um", FLEURS and the command sets never do) and Whisper
   * usually leaves them out, so counting them would score a transcription convention, not the
   * recogniser. The raw WER, reported beside the normalised one, keeps them.
   */
  readonly removeFillers?: boolean;
}

/** Every apostrophe-like character Whisper or a corpus may use, folded to ASCII "'". */
const APOSTROPHES = /[\u2019\u2018\u02bc\u02bb`\u00b4\u2032]/gu;
/** Hyphen, non-breaking hyphen, figure dash, en/em dashes, horizontal bar, minus sign. */
const DASHES = /[-\u2010\u2011\u2012\u2013\u2014\u2015\u2212]/gu;
/** Anything that is not a letter, a combining mark, a digit, an apostrophe or a space. */
const PUNCTUATION = /[^\p{L}\p{M}\p{N}'\s]/gu;
/** An apostrophe not between two letters is a quote mark, not an elision. */
const STRAY_APOSTROPHE = /(?<!\p{L})'|'(?!\p{L})/gu;

/** Thousands written with a space, NBSP or narrow NBSP between groups of 3 digits ("10 000"). */
const SPACED_THOUSANDS = /(?<![\p{N}.,])\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?![\p{N}])/gu;

export function joinSpacedThousands(text: string): string {
  return text.replace(SPACED_THOUSANDS, (m) => m.replace(/[ \u00a0\u202f]/gu, ''));
}

/** NFKC (ligatures, full-width forms, NBSP → space), lower case, ASCII apostrophes. */
export function foldText(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(APOSTROPHES, "'");
}

/** Dashes → spaces, other punctuation → spaces, quote-mark apostrophes removed. */
export function stripPunctuation(text: string): string {
  return text.replace(DASHES, ' ').replace(PUNCTUATION, ' ').replace(STRAY_APOSTROPHE, ' ');
}

export function tokenize(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/u);
}

/** For languages without their own rules: fold, strip punctuation, collapse spaces. */
export function normalizeBasic(text: string): string {
  return tokenize(stripPunctuation(foldText(text))).join(' ');
}

/** The "raw" form behind werRaw: lower case and whitespace collapsed, nothing else. */
export function normalizeRaw(text: string): string {
  return tokenize(text.toLowerCase()).join(' ');
}
