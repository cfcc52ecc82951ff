/**
 * Cuts one line of an haproxy.cfg into words as HAProxy's parse_line does (configuration.txt
 * 2.2 and 2.3): blanks separate words; `#` starts a comment; a backslash escapes outside single
 * quotes (`\ `, `\#`, `\\`, `\'`, `\"`, `\$`, `\n`, `\r`, `\t`, `\xNN`); single quotes keep
 * everything; double quotes keep blanks and expand environment variables, which stay literal
 * anywhere else. Quoted and unquoted parts next to each other make one word (`"a"b'c'` is `abc`).
 */

/** One word of a line, with the 1-based column where it starts, for messages. */
export interface Word {
  readonly text: string;
  readonly column: number;
}

export type Lexed =
  | { readonly ok: true; readonly words: readonly Word[] }
  | { readonly ok: false; readonly column: number; readonly message: string };

/** What `$NAME` reads: the environment as `setenv`/`presetenv` leave it, plus `.LINE` and friends. */
export type Lookup = (name: string) => string | undefined;

/** A dot starts only HAProxy's pseudo-variables (`.LINE`); it is not a name character after that. */
const NAME_START = /[A-Za-z_.]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function lexLine(line: string, lookup: Lookup): Lexed {
  const words: Word[] = [];
  let current = '';
  /** A word is open once it has a character or a quote: `""` is an empty word, as in HAProxy. */
  let open = false;
  let start = 0;
  let quote: '"' | "'" | null = null;
  let quoteAt = 0;
  const begin = (i: number) => {
    if (!open) {
      open = true;
      start = i;
    }
  };
  const end = () => {
    if (open) words.push({ text: current, column: start + 1 });
    current = '';
    open = false;
  };
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (quote === "'") {
      if (c === "'") quote = null;
      else current += c;
      i++;
      continue;
    }
    if (c === '\\') {
      begin(i);
      const escaped = readEscape(line, i);
      if (escaped === null) {
        return { ok: false, column: i + 1, message: 'truncated or invalid hexadecimal sequence' };
      }
      current += escaped.text;
      i = escaped.next;
      continue;
    }
    if (quote === '"') {
      if (c === '"') {
        quote = null;
        i++;
        continue;
      }
      if (c === '$') {
        const expanded = expandAt(line, i, lookup);
        if (!expanded.ok) return expanded;
        if (expanded.split === null) {
          current += expanded.text;
        } else {
          // "${NAME[*]}": the value's blank-separated parts become words of their own.
          const parts = expanded.split;
          for (let p = 0; p < parts.length; p++) {
            if (p > 0) {
              end();
              begin(i);
            }
            current += parts[p];
          }
        }
        i = expanded.next;
        continue;
      }
      current += c;
      i++;
      continue;
    }
    if (c === '#') break;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      end();
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      begin(i);
      quote = c;
      quoteAt = i;
      i++;
      continue;
    }
    begin(i);
    current += c;
    i++;
  }
  if (quote !== null) return { ok: false, column: quoteAt + 1, message: 'unmatched quote' };
  end();
  return { ok: true, words };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  ' ': ' ',
  '\t': '\t',
  '#': '#',
  '\\': '\\',
  "'": "'",
  '"': '"',
  $: '$',
  n: '\n',
  r: '\r',
  t: '\t',
};

function readEscape(line: string, at: number): { text: string; next: number } | null {
  const c = line[at + 1];
  if (c === undefined) return { text: '', next: at + 1 };
  if (c === 'x') {
    const hex = line.slice(at + 2, at + 4);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    return { text: String.fromCharCode(Number.parseInt(hex, 16)), next: at + 4 };
  }
  const simple = SIMPLE_ESCAPES[c];
  // HAProxy keeps an unknown escape as the backslash and the character.
  return { text: simple ?? `\\${c}`, next: at + 2 };
}

type Expanded =
  | {
      readonly ok: true;
      readonly text: string;
      readonly split: string[] | null;
      readonly next: number;
    }
  | { readonly ok: false; readonly column: number; readonly message: string };

/** `$NAME`, `${NAME}`, `${NAME-default}` (default only when unset), `${NAME[*]}` (split into words). */
function expandAt(line: string, at: number, lookup: Lookup): Expanded {
  const braced = line[at + 1] === '{';
  let i = braced ? at + 2 : at + 1;
  if (!NAME_START.test(line[i] ?? '')) {
    return {
      ok: false,
      column: i + 1,
      message: 'forbidden first character in environment variable name',
    };
  }
  const nameStart = i;
  i++;
  while (i < line.length && NAME_CHAR.test(line[i])) i++;
  const name = line.slice(nameStart, i);
  const value = lookup(name);
  if (!braced) return { ok: true, text: value ?? '', split: null, next: i };
  let split = false;
  let fallback: string | null = null;
  if (line.startsWith('[*]', i)) {
    split = true;
    i += 3;
  }
  if (line[i] === '-') {
    const close = line.indexOf('}', i);
    if (close < 0)
      return { ok: false, column: at + 2, message: 'unmatched brace in environment variable name' };
    fallback = line.slice(i + 1, close);
    i = close;
  }
  if (line[i] !== '}') {
    return { ok: false, column: at + 2, message: 'unmatched brace in environment variable name' };
  }
  const text = value ?? fallback ?? '';
  return {
    ok: true,
    text,
    split: split ? text.split(/[ \t]+/).filter((w, _n, all) => w !== '' || all.length === 1) : null,
    next: i + 1,
  };
}
