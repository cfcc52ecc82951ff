import type { ConfigIssue } from '../../errors.ts';
import type { Word } from './lexer.ts';

/** One active line of the file, cut into words, with the section it belongs to. */
export interface Statement {
  readonly words: readonly Word[];
  /** 1-based line number. */
  readonly line: number;
  /** `global`, `backend pg_dev`, …: the section, for messages ('' before the first section). */
  readonly section: string;
}

/** Errors refuse the file; warnings are kept with the config and printed by `legate -t` and at start. */
export class Report {
  readonly file: string;
  readonly errors: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];
  constructor(file: string) {
    this.file = file;
  }

  /** Refuses the file at `stmt`'s word `index` (0: the keyword). */
  error(stmt: Statement, message: string, index = 0): void {
    this.errors.push(this.#issue(stmt, index, message));
  }

  warn(stmt: Statement, message: string, index = 0): void {
    this.warnings.push(this.#issue(stmt, index, message));
  }

  /** An error placed at a line and column rather than a word (lexing, conditions). */
  errorAt(line: number, column: number, section: string, message: string): void {
    this.errors.push({ file: this.file, line, column, path: section, message });
  }

  #issue(stmt: Statement, index: number, message: string): ConfigIssue {
    const word = stmt.words[Math.min(index, stmt.words.length - 1)];
    return {
      file: this.file,
      line: stmt.line,
      column: word?.column ?? 1,
      path: stmt.section,
      message,
    };
  }
}
