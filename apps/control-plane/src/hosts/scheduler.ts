import { errors } from "@wrenn/common";

/** A host the scheduler may place a sandbox on, with its current load. */
export interface HostCandidate {
  id: string;
  cpuCount: number;
  memoryMb: number;
  /** Sandboxes running or starting there. */
  sandboxes: number;
  /** vCPUs and memory those sandboxes reserve. */
  vcpusReserved: number;
  memoryMbReserved: number;
}

/** What is being placed. */
export interface PlacementRequest {
  vcpus: number;
  memoryMb: number;
}

/** Picks a host for a new sandbox among online candidates. */
export interface Scheduler {
  readonly name: string;
  /** The chosen host id; throws `unavailable` when there is no candidate. */
  pick(candidates: HostCandidate[], request: PlacementRequest): string;
}

function requireCandidates(candidates: HostCandidate[]): void {
  if (candidates.length === 0) {
    throw errors.unavailable("no online host can run sandboxes right now; register a host agent first");
  }
}

/** Cycles through the candidates in order (stable across calls by host id). */
export class RoundRobinScheduler implements Scheduler {
  readonly name = "round-robin";
  #last: string | undefined;

  pick(candidates: HostCandidate[], _request?: PlacementRequest): string {
    requireCandidates(candidates);
    const sorted = [...candidates].sort((a, b) => a.id.localeCompare(b.id));
    // The first host after the previously chosen id, so added or removed hosts keep the rotation fair.
    const next = (this.#last && sorted.find((c) => c.id > (this.#last as string))) || sorted[0];
    this.#last = next?.id;
    return next?.id as string;
  }
}

/**
 * The host with the most memory left after its reservations (ties: fewest
 * sandboxes, then id). Hosts that would be overcommitted on memory are used
 * only when every host would be.
 */
export class LeastLoadedScheduler implements Scheduler {
  readonly name = "least-loaded";

  pick(candidates: HostCandidate[], request: PlacementRequest): string {
    requireCandidates(candidates);
    const freeMb = (c: HostCandidate) => c.memoryMb - c.memoryMbReserved - request.memoryMb;
    const fits = candidates.filter((c) => c.memoryMb === 0 || freeMb(c) >= 0);
    const pool = fits.length ? fits : candidates;
    const best = [...pool].sort(
      (a, b) => freeMb(b) - freeMb(a) || a.sandboxes - b.sandboxes || a.id.localeCompare(b.id),
    )[0];
    return best?.id as string;
  }
}

/** The scheduler named by configuration (`round-robin` | `least-loaded`). */
export function createScheduler(name: string): Scheduler {
  if (name === "round-robin") return new RoundRobinScheduler();
  if (name === "least-loaded") return new LeastLoadedScheduler();
  throw errors.invalidArgument(`unknown scheduler ${name}: use round-robin or least-loaded`);
}
