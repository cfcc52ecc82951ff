import { Transform, type TransformCallback } from 'node:stream';
import { LegateError } from '../../engine/errors.ts';

/** A request body legate stopped reading: the client gets `status`, the upstream a cut request. */
export class BodyError extends LegateError {
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(code, message);
    this.status = status;
  }
}

/**
 * Passes a request body on, counting it: over `maxBytes` (client_max_body_size; 0: no limit) it
 * fails with 413, and with 408 when no byte came for `timeoutMs` (client_body_timeout, nginx's
 * time between two reads). Backpressure passes through (a Transform holds one chunk).
 */
export class BodyGuard extends Transform {
  bytes = 0;
  readonly #maxBytes: number;
  readonly #timeoutMs: number;
  #timer: NodeJS.Timeout;

  constructor(maxBytes: number, timeoutMs: number) {
    super({ highWaterMark: 64 * 1024 });
    this.#maxBytes = maxBytes;
    this.#timeoutMs = timeoutMs;
    this.#timer = setTimeout(this.#timedOut, timeoutMs);
  }

  readonly #timedOut = (): void => {
    this.destroy(
      new BodyError('LEGATE_BODY_TIMEOUT', 408, `no request body bytes for ${this.#timeoutMs} ms`),
    );
  };

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.#maxBytes > 0 && this.bytes > this.#maxBytes) {
      done(
        new BodyError(
          'LEGATE_BODY_TOO_LARGE',
          413,
          `request body over client_max_body_size (${this.#maxBytes} bytes)`,
        ),
      );
      return;
    }
    this.#timer.refresh();
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    clearTimeout(this.#timer);
    done();
  }

  override _destroy(err: Error | null, done: (err: Error | null) => void): void {
    clearTimeout(this.#timer);
    done(err);
  }
}
