/** Picks the normaliser for a clip's language. */

import { normalizeBasic } from './normalize-common.js';
import { normalizeEnglish } from './normalize-en.js';
import { normalizeFrench } from './normalize-fr.js';
import type { NormalizeOptions } from './normalize-common.js';

export { normalizeBasic, normalizeRaw } from './normalize-common.js';
export type { NormalizeOptions } from './normalize-common.js';
export { normalizeEnglish } from './normalize-en.js';
export { normalizeFrench } from './normalize-fr.js';

/**
 * 'fr' and 'en' (and regional tags such as 'fr-CA') get their own rules; any other language gets
 * the basic fold (lower case, punctuation) since we have no number rules for it.
 */
export function normalizeFor(lang: string, options: NormalizeOptions = {}): (text: string) => string {
  const base = lang.toLowerCase().split(/[-_]/u)[0];
  if (base === 'fr') return (t) => normalizeFrench(t, options);
  if (base === 'en') return (t) => normalizeEnglish(t, options);
  return normalizeBasic;
}
