/** Where the nginx readers put what they find wrong (errors) or leave out (warnings). */
import type { ConfigIssue } from '../../errors.ts';
import type { Arg, Directive, TreeReporter } from './tree.ts';

export class NginxReport implements TreeReporter {
  readonly issues: ConfigIssue[] = [];
  readonly warnings: ConfigIssue[] = [];

  /** Issues in reading order: files as first met, then line and column within each. */
  static ordered(issues: readonly ConfigIssue[]): ConfigIssue[] {
    const files = [...new Set(issues.map((i) => i.file))];
    return [...issues].sort(
      (a, b) =>
        files.indexOf(a.file) - files.indexOf(b.file) || a.line - b.line || a.column - b.column,
    );
  }

  error(file: string, line: number, column: number, where: string, message: string): void {
    this.issues.push({ file, line, column, path: where, message });
  }

  /** An error about directive `d`, placed at `arg` when the problem is one argument. */
  at(d: Directive, message: string, arg?: Arg): void {
    this.error(d.file, arg?.line ?? d.line, arg?.column ?? d.column, d.name, message);
  }

  warn(d: Directive, message: string): void {
    this.warnings.push({ file: d.file, line: d.line, column: d.column, path: d.name, message });
  }

  /** nginx's argument-count check; false (and reported) when `d` has a count outside [min, max]. */
  arity(d: Directive, min: number, max = min): boolean {
    if (d.args.length >= min && d.args.length <= max) return true;
    this.at(d, `invalid number of arguments in "${d.name}" directive`);
    return false;
  }

  /** False (and reported) when `d` has a block and should not, or lacks one and should. */
  shape(d: Directive, block: boolean): boolean {
    if ((d.block !== null) === block) return true;
    this.at(
      d,
      block
        ? `directive "${d.name}" has no opening "{"`
        : `directive "${d.name}" is not terminated by ";"`,
    );
    return false;
  }
}
