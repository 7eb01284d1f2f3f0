import type { Logger } from "@wrenn/common";
import { type Job, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";

/** The BullMQ queue of template builds: one job per build, its id the build's UUID. */
export const BUILD_QUEUE_NAME = "template-builds";

/** Where the queue lives: the platform's Redis, under `prefix` (BullMQ refuses ioredis key prefixes). */
export interface BuildQueueOptions {
  redisUrl: string;
  prefix: string;
  /**
   * The deployment's id, appended to the prefix: control planes of one deployment share
   * the queue, two deployments on one Redis never take each other's jobs.
   */
  deploymentId: () => Promise<string>;
  log: Logger;
}

/**
 * Build jobs on Redis. The queue connection opens on first use, so an app
 * that never builds never connects. A worker pool (`startWorkers`) runs jobs
 * with a concurrency of `size`; a job whose worker died is delivered again once
 * its lock lapses (BullMQ's stalled-job check), which the runner treats as an
 * interrupted build.
 */
export class BuildQueue {
  private queue: Queue | undefined;
  private worker: Worker | undefined;
  private readonly connections: Redis[] = [];

  constructor(private readonly options: BuildQueueOptions) {}

  private connect(): Redis {
    // Workers block on Redis: BullMQ requires no per-request retry limit.
    const conn = new Redis(this.options.redisUrl, { maxRetriesPerRequest: null });
    conn.on("error", (err: Error) =>
      this.options.log.warn({ error: err.message }, "build queue redis error"),
    );
    this.connections.push(conn);
    return conn;
  }

  private scopedPrefix: Promise<string> | undefined;

  /** `<prefix>:<deployment id>`, read once. */
  private prefix(): Promise<string> {
    this.scopedPrefix ??= this.options.deploymentId().then((id) => `${this.options.prefix}:${id}`);
    return this.scopedPrefix;
  }

  private async jobs(): Promise<Queue> {
    const prefix = await this.prefix();
    this.queue ??= new Queue(BUILD_QUEUE_NAME, { connection: this.connect(), prefix });
    return this.queue;
  }

  /** Queues build `buildId` (idempotent: the job id is the build id). */
  async add(buildId: string): Promise<void> {
    await (await this.jobs()).add(
      "build",
      { buildId },
      { jobId: buildId, removeOnComplete: true, removeOnFail: 1000, attempts: 1 },
    );
  }

  /** Drops a job that no worker took yet; false when it is running (or gone). */
  async remove(buildId: string): Promise<boolean> {
    try {
      return (await (await this.jobs()).remove(buildId)) === 1;
    } catch {
      return false; // locked by a worker: the running build sees the cancel itself
    }
  }

  /** The job's state, e.g. `waiting`, `active`, `completed`, `failed` or `unknown` (no such job). */
  async state(buildId: string): Promise<string> {
    return (await this.jobs()).getJobState(buildId);
  }

  /** Starts `size` concurrent workers running `run(buildId)`. */
  async startWorkers(size: number, run: (buildId: string) => Promise<void>): Promise<void> {
    if (size <= 0 || this.worker) return;
    const prefix = await this.prefix();
    if (this.worker) return;
    this.worker = new Worker(
      BUILD_QUEUE_NAME,
      async (job: Job<{ buildId: string }>) => run(job.data.buildId),
      {
        connection: this.connect(),
        prefix,
        concurrency: size,
        // A build is long: the lock is renewed every lockDuration/2 while it runs.
        lockDuration: 60_000,
        stalledInterval: 30_000,
        // One redelivery after a crash, which the runner answers by failing the build cleanly.
        maxStalledCount: 1,
      },
    );
    this.worker.on("error", (err) => this.options.log.warn({ err }, "build worker error"));
  }

  /** Stops the workers (letting running builds' jobs stall for another process) and closes connections. */
  async close(): Promise<void> {
    await this.worker?.close(true).catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const c of this.connections) c.disconnect();
    this.worker = undefined;
    this.queue = undefined;
  }
}
