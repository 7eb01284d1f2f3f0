import type { ApiClient } from "./client/http.ts";
import { type SandboxInfo, type SandboxState, type SandboxWire, sandboxInfoOf } from "./sandbox-info.ts";

/** Filters and page size of `Sandbox.list`. */
export interface SandboxListOptions {
  /** Only sandboxes in these states. */
  state?: SandboxState[] | undefined;
  /** Only sandboxes whose metadata has all of these pairs. */
  metadata?: Record<string, string> | undefined;
  /** Page size (1–100, default 50). */
  limit?: number | undefined;
  /** Start after this cursor (a `nextCursor` of an earlier page). */
  cursor?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Pages of the team's sandboxes. `nextItems()` fetches one page at a time;
 * `for await` walks every sandbox across pages.
 *
 * @example
 * ```ts
 * const pages = Sandbox.list({ limit: 20 });
 * while (pages.hasNext) {
 *   for (const s of await pages.nextItems()) console.log(s.sandboxId);
 * }
 * ```
 */
export class SandboxPaginator implements AsyncIterable<SandboxInfo> {
  private cursor: string | undefined;
  private more = true;

  /** @internal */
  constructor(
    private readonly api: ApiClient,
    private readonly options: SandboxListOptions,
  ) {
    this.cursor = options.cursor;
  }

  /** True until a page came back without a next cursor. */
  get hasNext(): boolean {
    return this.more;
  }

  /** Cursor of the next page (`undefined` before the first page and after the last). */
  get nextCursor(): string | undefined {
    return this.more ? this.cursor : undefined;
  }

  /**
   * Fetches the next page; answers `[]` once there is none.
   *
   * @example
   * ```ts
   * const firstTen = await Sandbox.list({ limit: 10 }).nextItems();
   * ```
   */
  async nextItems(): Promise<SandboxInfo[]> {
    if (!this.more) return [];
    const metadata = this.options.metadata
      ? new URLSearchParams(this.options.metadata).toString()
      : undefined;
    const page = await this.api.request<{ sandboxes: SandboxWire[]; next_cursor: string | null }>(
      "GET",
      "/v1/sandboxes",
      {
        query: {
          state: this.options.state?.join(","),
          metadata: metadata || undefined,
          limit: this.options.limit,
          cursor: this.cursor,
        },
        signal: this.options.signal,
      },
    );
    this.cursor = page.next_cursor ?? undefined;
    this.more = page.next_cursor !== null && page.next_cursor !== undefined;
    return page.sandboxes.map(sandboxInfoOf);
  }

  /** Every sandbox across all remaining pages. */
  async *[Symbol.asyncIterator](): AsyncIterator<SandboxInfo> {
    while (this.more) {
      for (const info of await this.nextItems()) yield info;
    }
  }
}
