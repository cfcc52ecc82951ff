import { extname } from 'node:path';
import { MessageChannel, type MessagePort, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from '../log.ts';
import type { ControlMessage, Generation, WorkerMessage, WorkerTask } from './protocol.ts';

/**
 * A worker's young generation, capped: under a redis-benchmark load V8 grows it to its default
 * 48 MB (three 16 MB semi-spaces) and keeps those pages until the worker goes idle. With 16 MB
 * a -w 1 process held 111-139 MB right after `npm run bench -- footprint`'s load instead of
 * 161 MB, at the same CPU per request (README, Memory and start-up).
 */
const YOUNG_GENERATION_MB = 16;
const RESTART_DELAY_MIN_MS = 100;
const RESTART_DELAY_MAX_MS = 5000;

/**
 * How one worker answered a reload: applied it, refused it (why), ended before it answered, or
 * did not answer in time (`silent`: it takes the reload up, or refuses it, whenever it does).
 */
export type ReloadAnswer =
  | { readonly worker: number; readonly outcome: 'applied' }
  | { readonly worker: number; readonly outcome: 'refused'; readonly error: string }
  | { readonly worker: number; readonly outcome: 'gone' }
  | { readonly worker: number; readonly outcome: 'silent' };

/** A reload a worker has not answered yet. */
interface PendingReload {
  readonly id: number;
  readonly resolve: (answer: ReloadAnswer) => void;
}

/**
 * The data-plane threads, through piscina: one long-lived serving task per thread
 * (minThreads = maxThreads = count, no idle timeout). A task that rejects means its thread
 * died; it is submitted again, so the worker is replaced while the others keep serving.
 */
export class WorkerSet {
  readonly count: number;
  readonly #piscina: Piscina<WorkerTask, void>;
  readonly #ports: (MessagePort | null)[];
  readonly #tasks: Promise<void>[] = [];
  readonly #makeTask: (workerId: number) => Omit<WorkerTask, 'port'>;
  readonly #onMessage: (workerId: number, message: WorkerMessage) => void;
  readonly #onDied: (workerId: number) => void;
  readonly #log: Logger;
  readonly #restartDelay: number[];
  readonly #ready: boolean[];
  /** Per worker, how many times it has been started: who (re)started while a reload was pending. */
  readonly #starts: number[];
  /** Per worker, the reload it has not answered yet (one at a time: the supervisor queues them). */
  readonly #answers: (PendingReload | null)[];
  /** How long reload() waits for a worker's answer. */
  readonly reloadTimeoutMs: number;
  #reloadId = 0;
  #stopping = false;

  constructor(
    count: number,
    makeTask: (workerId: number) => Omit<WorkerTask, 'port'>,
    onMessage: (workerId: number, message: WorkerMessage) => void,
    onDied: (workerId: number) => void,
    log: Logger,
    reloadTimeoutMs: number,
  ) {
    this.count = count;
    this.reloadTimeoutMs = reloadTimeoutMs;
    this.#makeTask = makeTask;
    this.#onMessage = onMessage;
    this.#onDied = onDied;
    this.#log = log;
    this.#ports = new Array(count).fill(null);
    this.#restartDelay = new Array(count).fill(0);
    this.#ready = new Array(count).fill(false);
    this.#starts = new Array(count).fill(0);
    this.#answers = new Array(count).fill(null);
    this.#piscina = new Piscina<WorkerTask, void>({
      // The emitted JavaScript from dist/ (what users run), the TypeScript sources in development.
      filename: new URL(`../../workers/entry${extname(import.meta.url)}`, import.meta.url).href,
      minThreads: count,
      maxThreads: count,
      idleTimeout: Number.POSITIVE_INFINITY,
      atomics: 'disabled',
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
    });
  }

  /** Starts every worker; resolves when all listen, rejects with the first that cannot. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.count }, (_, i) => this.#start(i)));
  }

  /** Workers up and listening now. */
  get ready(): number {
    return this.#ready.filter(Boolean).length;
  }

  /** Each worker's start count now; startedSince() compares a later moment with it. */
  starts(): readonly number[] {
    return [...this.#starts];
  }

  /** The workers started (again) since `starts` was read: each began on the generation of then. */
  startedSince(starts: readonly number[]): number[] {
    return this.#starts.flatMap((n, worker) => (n === starts[worker] ? [] : [worker]));
  }

  post(message: ControlMessage): void {
    for (const p of this.#ports) p?.postMessage(message);
  }

  postTo(workerId: number, message: ControlMessage): void {
    this.#ports[workerId]?.postMessage(message);
  }

  /**
   * Hands `generation` to these workers (all by default); resolves with each one's answer once
   * every one has answered, ended, or let the reload timeout pass (`silent`: a stuck worker must
   * not hold this and every later reload up for ever). A worker not running now (waiting to be
   * restarted) is `gone`: it starts on whatever generation the supervisor has when it does.
   */
  reload(
    generation: Generation,
    workers: readonly number[] = Array.from({ length: this.count }, (_, i) => i),
  ): Promise<ReloadAnswer[]> {
    const id = ++this.#reloadId;
    return Promise.all(
      workers.map(
        (worker) =>
          new Promise<ReloadAnswer>((resolve) => {
            const port = this.#ports[worker];
            if (port === null) return resolve({ worker, outcome: 'gone' });
            const timer = setTimeout(
              () => this.#answer(worker, id, { worker, outcome: 'silent' }),
              this.reloadTimeoutMs,
            );
            timer.unref();
            this.#answers[worker] = {
              id,
              resolve: (answer) => {
                clearTimeout(timer);
                resolve(answer);
              },
            };
            port.postMessage({ type: 'reload', id, generation } satisfies ControlMessage);
          }),
      ),
    );
  }

  /**
   * Settles the worker's pending reload with `answer`: reload `id`'s, or whichever is pending
   * when `id` is null (the worker ended). An answer to a reload given up on is only logged.
   */
  #answer(worker: number, id: number | null, answer: ReloadAnswer): void {
    const pending = this.#answers[worker];
    if (pending === null || (id !== null && pending.id !== id)) {
      if (answer.outcome === 'applied' || answer.outcome === 'refused')
        this.#log.info(
          { worker, reload: id, outcome: answer.outcome },
          'worker %d answered a reload it was no longer waited for: %s',
          worker,
          answer.outcome,
        );
      return;
    }
    this.#answers[worker] = null;
    pending.resolve(answer);
  }

  /** Tells every worker to drain and stop; resolves when their tasks end (or after `hardLimitMs`). */
  async stop(drainTimeoutMs: number, hardLimitMs: number): Promise<void> {
    this.#stopping = true;
    this.post({ type: 'stop', drainTimeoutMs });
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, hardLimitMs);
    });
    await Promise.race([Promise.allSettled(this.#tasks), limit]);
    clearTimeout(timer);
    await this.#piscina.destroy();
  }

  #start(workerId: number): Promise<void> {
    return new Promise<void>((ready, failed) => {
      const { port1, port2 } = new MessageChannel();
      this.#ports[workerId] = port1;
      const onMessage = (m: WorkerMessage) => {
        if (m.type === 'ready') {
          this.#restartDelay[workerId] = 0;
          this.#ready[workerId] = true;
          ready();
        } else if (m.type === 'failed') failed(new Error(m.message));
        else if (m.type === 'reloaded')
          this.#answer(
            workerId,
            m.id,
            m.error === undefined
              ? { worker: workerId, outcome: 'applied' }
              : { worker: workerId, outcome: 'refused', error: m.error },
          );
        else this.#onMessage(workerId, m);
      };
      port1.on('message', onMessage);
      // The task can settle before its last messages ('failed' and why) are read; closing the
      // port would drop them and leave start() waiting forever, so read what is queued first.
      const closePort = () => {
        for (let m = receiveMessageOnPort(port1); m !== undefined; m = receiveMessageOnPort(port1))
          onMessage(m.message as WorkerMessage);
        port1.close();
        this.#ports[workerId] = null;
        this.#answer(workerId, null, { worker: workerId, outcome: 'gone' });
      };
      this.#starts[workerId]++;
      const task: WorkerTask = { ...this.#makeTask(workerId), port: port2 };
      // piscina types transferList loosely; a MessagePort is transferable.
      const done = this.#piscina.run(task, { transferList: [port2] as never });
      this.#tasks[workerId] = done.then(
        () => {
          this.#ready[workerId] = false;
          closePort();
          // No-op once ready or failed; otherwise the worker ended without saying either.
          failed(new Error(`worker ${workerId} ended before it was ready`));
        },
        (err: Error) => {
          this.#ready[workerId] = false;
          closePort();
          failed(err);
          if (!this.#stopping) this.#restart(workerId, err);
        },
      );
    });
  }

  #restart(workerId: number, err: Error): void {
    this.#onDied(workerId);
    const delay = Math.min(
      RESTART_DELAY_MAX_MS,
      Math.max(RESTART_DELAY_MIN_MS, this.#restartDelay[workerId] * 2),
    );
    this.#restartDelay[workerId] = delay;
    this.#log.error(
      { worker: workerId, err: err.message, restart_in_ms: delay },
      'worker %d died: %s; restarting it',
      workerId,
      err.message,
    );
    setTimeout(() => {
      if (this.#stopping) return;
      this.#start(workerId).then(
        () => this.#log.info({ worker: workerId }, 'worker %d restarted', workerId),
        (e: Error) =>
          this.#log.error(
            { worker: workerId, err: e.message },
            'worker %d failed to restart: %s',
            workerId,
            e.message,
          ),
      );
    }, delay).unref();
  }
}
