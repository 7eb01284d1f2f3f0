import { errors } from "@wrenn/common";
import { assertSlotIndex, MAX_SLOT_INDEX } from "./addresses.ts";

/**
 * Hands out network slot indices `first..last`. Allocation is next-fit (a cursor moves past
 * the last index handed out) so a just-released slot is not immediately reused while late
 * packets or conntrack entries for its addresses may still be around.
 */
export class SlotAllocator {
  readonly first: number;
  readonly last: number;
  private readonly used = new Set<number>();
  private cursor: number;

  constructor(options: { first?: number; last: number }) {
    this.first = assertSlotIndex(options.first ?? 1);
    this.last = assertSlotIndex(options.last);
    if (this.last < this.first || this.last > MAX_SLOT_INDEX) {
      throw errors.invalidArgument("slot range must satisfy first <= last <= 9999");
    }
    this.cursor = this.first;
  }

  /** Number of slots in the range. */
  get capacity(): number {
    return this.last - this.first + 1;
  }

  /** Number of slots currently allocated. */
  get inUse(): number {
    return this.used.size;
  }

  /** Takes a free slot; throws `resource_exhausted` when every slot is in use. */
  allocate(): number {
    for (let tried = 0; tried < this.capacity; tried++) {
      const idx = this.cursor;
      this.cursor = idx === this.last ? this.first : idx + 1;
      if (!this.used.has(idx)) {
        this.used.add(idx);
        return idx;
      }
    }
    throw errors.resourceExhausted(`all ${this.capacity} network slots are in use`);
  }

  /**
   * Marks a specific slot as taken (e.g. one adopted from a previous run). Throws
   * `already_exists` when it is taken, `invalid_argument` when outside the range.
   */
  reserve(idx: number): void {
    this.assertInRange(idx);
    if (this.used.has(idx)) throw errors.alreadyExists(`network slot ${idx} is already allocated`);
    this.used.add(idx);
  }

  /** Returns a slot to the pool. Returns false (and changes nothing) when it was not allocated. */
  release(idx: number): boolean {
    this.assertInRange(idx);
    return this.used.delete(idx);
  }

  /** True when `idx` is currently allocated. */
  isAllocated(idx: number): boolean {
    return this.used.has(idx);
  }

  private assertInRange(idx: number): void {
    assertSlotIndex(idx);
    if (idx < this.first || idx > this.last) {
      throw errors.invalidArgument(`slot ${idx} is outside ${this.first}..${this.last}`);
    }
  }
}
