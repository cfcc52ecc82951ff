/**
 * nginx's config lexer (ngx_conf_read_token): words separated by blanks, `;`, `{` and `}`;
 * `#` to the end of the line is a comment where a word could start; "double" and 'single'
 * quotes group blanks into one word; a backslash escapes `"`, `'`, `\` and writes `\t`, `\r`,
 * `\n` (any other `\x` stays as written, for regexes); `${name}` keeps its braces inside a word.
 */

export type TokenKind = 'word' | ';' | '{' | '}';

export interface Token {
  readonly kind: TokenKind;
  /** The word after quotes and escapes are resolved; the punctuation itself otherwise. */
  readonly text: string;
  /** Written in quotes (so `"{"` is a word, and `""` an empty one). */
  readonly quoted: boolean;
  /** 1-based. */
  readonly line: number;
  readonly column: number;
}

export interface LexError {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  "'": "'",
  '\\': '\\',
  t: '\t',
  r: '\r',
  n: '\n',
};

function isBlank(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n';
}

/** All tokens of `text`, or the first lexical error (an unclosed quote). */
export function tokenize(text: string): { tokens: Token[]; error: LexError | null } {
  const tokens: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (c === '\n') {
      line++;
      lineStart = i + 1;
      i++;
      continue;
    }
    if (isBlank(c)) {
      i++;
      continue;
    }
    const column = i - lineStart + 1;
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      tokens.push({ kind: c, text: c, quoted: false, line, column });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const quote = c;
      const startLine = line;
      let word = '';
      i++;
      for (;;) {
        if (i >= n) {
          return {
            tokens,
            error: {
              line: startLine,
              column,
              message: `unexpected end of file, expecting ${quote}`,
            },
          };
        }
        const d = text[i];
        if (d === '\\' && i + 1 < n) {
          const e = text[i + 1];
          word += ESCAPES[e] ?? `\\${e}`;
          if (e === '\n') {
            line++;
            lineStart = i + 2;
          }
          i += 2;
          continue;
        }
        if (d === quote) {
          i++;
          break;
        }
        if (d === '\n') {
          line++;
          lineStart = i + 1;
        }
        word += d;
        i++;
      }
      tokens.push({ kind: 'word', text: word, quoted: true, line: startLine, column });
      continue;
    }
    let word = '';
    while (i < n) {
      const d = text[i];
      if (isBlank(d) || d === ';' || d === '}') break;
      if (d === '{') {
        // `${name}` keeps its braces; any other `{` ends the word (a block starts).
        if (word.endsWith('$')) {
          const close = text.indexOf('}', i);
          if (close < 0) break;
          word += text.slice(i, close + 1);
          i = close + 1;
          continue;
        }
        break;
      }
      if (d === '\\' && i + 1 < n && !isBlank(text[i + 1])) {
        const e = text[i + 1];
        word += ESCAPES[e] ?? `\\${e}`;
        i += 2;
        continue;
      }
      word += d;
      i++;
    }
    tokens.push({ kind: 'word', text: word, quoted: false, line, column });
  }
  return { tokens, error: null };
}
