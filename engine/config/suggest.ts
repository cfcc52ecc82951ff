/** Levenshtein distance; inputs are config keys and enum values, so the O(n·m) table is tiny. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost));
    }
    prev = row;
  }
  return prev[b.length];
}

/** Folds the spellings people mix up between YAML styles: `hashTag`, `hash-tag`, `HASH_TAG`. */
function fold(word: string): string {
  return word.toLowerCase().replace(/[-_ ]/g, '');
}

/**
 * The closest candidate when it is plausibly a typo of `word`, else null.
 * A third of the word's length (at least 1, at most 3) keeps `timout` → `timeout`
 * while not offering `log` for `db`.
 */
export function closest(word: string, candidates: readonly string[]): string | null {
  const folded = fold(word);
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const d = fold(candidate) === folded ? 0 : editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : null;
}

/** ` (did you mean 'X'?)`, or '' when nothing is close enough to be worth saying. */
export function didYouMean(word: string, candidates: readonly string[]): string {
  const hit = closest(word, candidates);
  return hit === null ? '' : ` (did you mean '${hit}'?)`;
}
