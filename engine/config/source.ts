import { type Document, isAlias, type LineCounter, type Node } from 'yaml';
import type { ConfigIssue } from './errors.ts';

/** Anything the yaml package placed in the text. */
export interface Placed {
  readonly range?: readonly [number, number, number] | null;
}

/**
 * The file being read and the issues found in it so far. Readers report here and carry on,
 * so a single run lists every mistake instead of stopping at the first.
 */
export class ConfigSource {
  readonly file: string;
  readonly text: string;
  readonly doc: Document.Parsed;
  readonly issues: ConfigIssue[] = [];
  readonly #lines: LineCounter;
  readonly #settled = new WeakSet<object>();

  constructor(file: string, text: string, doc: Document.Parsed, lines: LineCounter) {
    this.file = file;
    this.text = text;
    this.doc = doc;
    this.#lines = lines;
  }

  /** Reports at a character offset of the text. */
  reportAt(offset: number, path: string, message: string): void {
    const { line, col } = this.#lines.linePos(offset);
    this.issues.push({ file: this.file, line, column: col, path, message });
  }

  /** Reports at the start of `node`; a node without a place (built, not parsed) reports at the top. */
  report(node: Placed | null | undefined, path: string, message: string): void {
    if (node != null && this.#settled.has(node)) return;
    this.reportAt(node?.range?.[0] ?? 0, path, message);
  }

  /**
   * Says `node` already has the issue that matters (a failed `${...}`), so readers stay quiet
   * about it: "expected host:port, got '${HOST}'" would only repeat the same mistake.
   */
  settle(node: Placed): void {
    this.#settled.add(node);
  }

  /** Reports something that has no place in the text, like an environment variable. */
  reportElsewhere(path: string, message: string): void {
    this.issues.push({ file: this.file, line: 0, column: 0, path, message });
  }

  /** 1-based line of a node, for messages that point back at an earlier one. */
  lineOf(node: Placed): number {
    return this.#lines.linePos(node.range?.[0] ?? 0).line;
  }

  /** Follows an alias (`*name`) to the node it names, so anchors work wherever a value does. */
  deref(node: Node | null | undefined): Node | null {
    if (node == null) return null;
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return node;
  }
}
