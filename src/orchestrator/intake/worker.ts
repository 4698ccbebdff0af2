// Works the delivery queue in the background: claims due deliveries, runs the processor, records outcome or retry.
import { hostname } from "node:os";
import type { Event } from "../../events/schema.js";
import type { ClaimedDelivery, DeliveryQueue } from "./delivery-queue.js";

/** Turns one event into its effect (a run request, a reply, or nothing) and says what happened, for the delivery log. */
export type EventProcessor = (event: Event) => Promise<string>;

export interface WorkerLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerOptions {
  readonly concurrency: number;
  /** Upper bound on how long a retry or lapsed lease waits to be noticed. */
  readonly pollMs: number;
  readonly log: WorkerLog;
}

export class DeliveryWorker {
  private readonly id = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  private running = 0;
  private claiming = false;
  private again = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly queue: DeliveryQueue,
    private readonly process: EventProcessor,
    private readonly opts: WorkerOptions,
  ) {
    queue.onQueued(() => this.poke());
  }

  start(): void {
    this.stopped = false;
    this.poke();
  }

  /** Stops claiming and waits for deliveries in hand; unfinished ones are re-claimed after restart. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Resolves when nothing is due and nothing is in hand (for the CLI and tests). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Claims what is due, up to the concurrency limit; calls made while a claim is in flight are folded into one more round. */
  poke(): void {
    if (this.stopped) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    const free = this.opts.concurrency - this.running;
    if (free <= 0) return;
    this.claiming = true;
    void this.queue
      .claim(this.id, free)
      .then(
        (claimed) => {
          for (const c of claimed) this.begin(c);
        },
        (err: unknown) => this.opts.log.error({ err: err instanceof Error ? err.message : String(err) }, "claiming deliveries failed"),
      )
      .finally(() => {
        this.claiming = false;
        if (this.again) {
          this.again = false;
          this.poke();
        }
        this.schedule();
        this.notifyIdle();
      });
  }

  private begin(c: ClaimedDelivery): void {
    this.running++;
    const p = this.handle(c).finally(() => {
      this.running--;
      this.inFlight.delete(p);
      this.poke();
      this.notifyIdle();
    });
    this.inFlight.add(p);
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private isIdle(): boolean {
    return this.running === 0 && !this.claiming && (this.stopped || this.queue.nextDueIn() !== 0);
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const due = this.queue.nextDueIn();
    if (due === null) return;
    this.timer = setTimeout(() => this.poke(), Math.min(Math.max(due, 10), this.opts.pollMs));
    this.timer.unref();
  }

  private async handle(c: ClaimedDelivery): Promise<void> {
    const ctx = { delivery_id: c.deliveryId, source: c.source, event: c.event.vendor_event, attempt: c.attempts };
    try {
      const outcome = await this.process(c.event);
      await this.queue.complete(c, this.id, outcome);
      this.opts.log.info({ ...ctx, outcome }, "delivery processed");
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const state = await this.queue.failed(c, this.id, message);
      const log = state === "failed" ? this.opts.log.error : this.opts.log.warn;
      log.call(this.opts.log, { ...ctx, err: message, state }, state === "failed" ? "delivery failed; giving up" : "delivery failed; will retry");
    }
  }
}
