/**
 * Ctrl-C while the demo starts (or stops) its backends must still stop every child it started:
 * a hold keeps SIGINT and SIGTERM from killing the process until legate's own handlers are in
 * place, then hands a signal received meanwhile to them.
 */
export class HeldSignals {
  #received: NodeJS.Signals | null = null;
  #holding = true;
  readonly #hold = (signal: NodeJS.Signals): void => {
    this.#received ??= signal;
  };

  constructor() {
    process.on('SIGINT', this.#hold);
    process.on('SIGTERM', this.#hold);
  }

  /** The first signal received while holding, if any. */
  get received(): NodeJS.Signals | null {
    return this.#received;
  }

  /** Stops holding; a signal received meanwhile goes to the handlers now installed (legate's). */
  release(): void {
    if (!this.#holding) return;
    this.end();
    if (this.#received !== null) process.emit(this.#received, this.#received);
  }

  /** Stops holding and drops what was received. */
  end(): void {
    this.#holding = false;
    process.off('SIGINT', this.#hold);
    process.off('SIGTERM', this.#hold);
  }
}
