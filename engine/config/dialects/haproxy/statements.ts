/**
 * The active statements of an haproxy.cfg: each line lexed (lexer.ts) with the environment as
 * it stands at that line, `.if/.elif/.else/.endif` settled (condition.ts), `.notice/.warning/
 * .alert/.diag` reported. The caller handles each statement before the next line is lexed, so
 * a `setenv` in `global` is seen by the lines after it, as in HAProxy.
 */
import { evaluateCondition } from './condition.ts';
import { lexLine } from './lexer.ts';
import type { Report, Statement } from './report.ts';

/** HAProxy's view of the environment: the process's, changed by setenv/presetenv/unsetenv/resetenv. */
export class Environment {
  readonly vars: Map<string, string>;
  file = '';
  line = 0;
  /** The section for messages, like `backend pg_dev`. */
  section = '';
  /** `.SECTION`: the section's name, or its keyword when it has none (`global`). */
  sectionName = '';
  constructor(env: NodeJS.ProcessEnv) {
    this.vars = new Map();
    for (const [k, v] of Object.entries(env)) if (v !== undefined) this.vars.set(k, v);
  }

  /** A variable's value; `.FILE`, `.LINE` and `.SECTION` are HAProxy's pseudo-variables. */
  lookup = (name: string): string | undefined => {
    if (name === '.FILE') return this.file;
    if (name === '.LINE') return String(this.line);
    if (name === '.SECTION') return this.sectionName;
    return this.vars.get(name);
  };
}

interface Level {
  /** This level's lines are read. */
  active: boolean;
  /** A branch of this `.if` chain was taken already, so later `.elif`/`.else` are skipped. */
  taken: boolean;
  /** An `.else` was seen. */
  sawElse: boolean;
  /** The enclosing level is active. */
  readonly parentActive: boolean;
  readonly line: number;
}

/** Section keywords: a line starting with one begins a new section. */
export const SECTION_KEYWORDS: ReadonlySet<string> = new Set([
  'global',
  'defaults',
  'frontend',
  'backend',
  'listen',
  'resolvers',
  'peers',
  'userlist',
  'mailers',
  'program',
  'http-errors',
  'ring',
  'cache',
  'fcgi-app',
  'crt-store',
  'traces',
  'log-forward',
]);

export function readStatements(
  text: string,
  env: Environment,
  report: Report,
  handle: (stmt: Statement) => void,
): void {
  const lines = text.split('\n');
  const levels: Level[] = [];
  const active = () => levels.length === 0 || levels[levels.length - 1].active;
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    env.line = line;
    const lexed = lexLine(lines[n], env.lookup);
    if (!lexed.ok) {
      report.errorAt(line, lexed.column, env.section, lexed.message);
      continue;
    }
    const words = lexed.words;
    if (words.length === 0) continue;
    const keyword = words[0].text;
    const stmt: Statement = { words, line, section: env.section };
    const condition = () =>
      words
        .slice(1)
        .map((w) => w.text)
        .join(' ');
    const evaluate = (): boolean => {
      const result = evaluateCondition(condition(), env.lookup);
      if (result.ok) return result.value;
      report.errorAt(
        line,
        (words[1]?.column ?? 1) + result.offset,
        env.section,
        `${result.message} in '${keyword}'`,
      );
      return false;
    };
    switch (keyword) {
      case '.if': {
        const parentActive = active();
        const value = parentActive && evaluate();
        levels.push({ active: value, taken: value, sawElse: false, parentActive, line });
        continue;
      }
      case '.elif':
      case '.else': {
        const level = levels[levels.length - 1];
        if (level === undefined) {
          report.error(stmt, `lone '${keyword}' with no matching '.if'`);
          continue;
        }
        if (level.sawElse) {
          report.error(stmt, `'${keyword}' after '.else' (line of the '.if': ${level.line})`);
          continue;
        }
        if (keyword === '.else') {
          level.sawElse = true;
          level.active = level.parentActive && !level.taken;
        } else {
          level.active = level.parentActive && !level.taken && evaluate();
        }
        level.taken ||= level.active;
        continue;
      }
      case '.endif':
        if (levels.pop() === undefined) report.error(stmt, "lone '.endif' with no matching '.if'");
        continue;
    }
    if (!active()) continue;
    if (keyword === '.notice' || keyword === '.warning' || keyword === '.diag') {
      if (keyword !== '.diag') report.warn(stmt, `${keyword}: ${words[1]?.text ?? ''}`);
      continue;
    }
    if (keyword === '.alert') {
      report.error(stmt, `.alert: ${words[1]?.text ?? ''}`);
      continue;
    }
    if (keyword.startsWith('.')) {
      report.error(
        stmt,
        `unknown directive '${keyword}'; HAProxy's are .if, .elif, .else, .endif, .notice, .warning, .alert, .diag`,
      );
      continue;
    }
    if (SECTION_KEYWORDS.has(keyword)) {
      env.section = words[1] === undefined ? keyword : `${keyword} ${words[1].text}`;
      env.sectionName = words[1]?.text ?? keyword;
    }
    handle({ words, line, section: env.section });
  }
  for (const level of levels) {
    report.errorAt(level.line, 1, '', "'.if' is not closed by '.endif'");
  }
}
