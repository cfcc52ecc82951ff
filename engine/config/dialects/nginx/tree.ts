/**
 * The directive tree of an nginx config: `name args… ;` or `name args… { children }`, each
 * with the file and line it came from, `include` expanded in place (globs in the last path
 * segment, relative paths from the including file's directory, as nginx resolves them from its
 * conf prefix).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { type Token, tokenize } from './tokens.ts';

export interface Arg {
  readonly text: string;
  readonly quoted: boolean;
  readonly line: number;
  readonly column: number;
}

export interface Directive {
  readonly name: string;
  readonly args: readonly Arg[];
  /** null for a simple directive, the block's contents for `name … { }`. */
  readonly block: Directive[] | null;
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** Problems are reported here with the place they belong to; reading carries on past them. */
export interface TreeReporter {
  error(file: string, line: number, column: number, where: string, message: string): void;
}

const MAX_INCLUDE_DEPTH = 16;

/** The directives of one file, includes expanded. */
export function readTree(text: string, file: string, report: TreeReporter, depth = 0): Directive[] {
  const { tokens, error } = tokenize(text);
  if (error !== null) {
    // Past an unclosed quote every token is misread; listing them would bury the one mistake.
    report.error(file, error.line, error.column, '', error.message);
    return [];
  }
  return parseBlock(tokens, { i: 0 }, file, report, false, depth);
}

function parseBlock(
  tokens: readonly Token[],
  at: { i: number },
  file: string,
  report: TreeReporter,
  nested: boolean,
  depth: number,
): Directive[] {
  const out: Directive[] = [];
  while (at.i < tokens.length) {
    const first = tokens[at.i];
    if (first.kind === '}') {
      at.i++;
      if (nested) return out;
      report.error(file, first.line, first.column, '', 'unexpected "}"');
      continue;
    }
    if (first.kind !== 'word') {
      report.error(file, first.line, first.column, '', `unexpected "${first.text}"`);
      at.i++;
      continue;
    }
    const args: Arg[] = [];
    at.i++;
    let end: Token | undefined;
    while (at.i < tokens.length) {
      const t = tokens[at.i];
      if (t.kind === 'word') {
        args.push({ text: t.text, quoted: t.quoted, line: t.line, column: t.column });
        at.i++;
        continue;
      }
      end = t;
      at.i++;
      break;
    }
    if (end === undefined || end.kind === '}') {
      report.error(
        file,
        first.line,
        first.column,
        first.text,
        end === undefined
          ? 'unexpected end of file, expecting ";" or "}"'
          : 'unexpected "}": the directive needs a ";" before it',
      );
      if (end?.kind === '}' && nested) return out;
      continue;
    }
    const block = end.kind === '{' ? parseBlock(tokens, at, file, report, true, depth) : null;
    if (first.text === 'include' && block === null && !first.quoted) {
      out.push(...expandInclude(args, first, file, report, depth));
      continue;
    }
    out.push({ name: first.text, args, block, file, line: first.line, column: first.column });
  }
  if (nested) {
    const last = tokens[tokens.length - 1];
    report.error(
      file,
      last?.line ?? 1,
      last?.column ?? 1,
      '',
      'unexpected end of file, expecting "}"',
    );
  }
  return out;
}

function expandInclude(
  args: readonly Arg[],
  at: Token,
  file: string,
  report: TreeReporter,
  depth: number,
): Directive[] {
  if (args.length !== 1) {
    report.error(file, at.line, at.column, 'include', 'takes one file name or pattern');
    return [];
  }
  if (depth >= MAX_INCLUDE_DEPTH) {
    report.error(file, at.line, at.column, 'include', 'includes nest too deep (an include loop?)');
    return [];
  }
  const pattern = isAbsolute(args[0].text) ? args[0].text : join(dirname(file), args[0].text);
  const files = pattern.includes('*') || pattern.includes('?') ? glob(pattern) : [pattern];
  const out: Directive[] = [];
  for (const path of files) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      report.error(
        file,
        at.line,
        at.column,
        'include',
        `cannot read "${path}": ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
      continue;
    }
    out.push(...readTree(text, path, report, depth + 1));
  }
  return out;
}

/** `dir/*.conf`: the matching files of one directory, sorted (nginx's glob sorts too). */
function glob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = pattern.slice(dir.length + 1);
  const re = new RegExp(
    `^${base
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => re.test(n) && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n));
}
