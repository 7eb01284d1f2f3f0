import type { SandboxState } from "../../api/sandboxes.ts";
import { Badge, type BadgeTone } from "../../ui/index.ts";

const tones: Record<SandboxState, BadgeTone> = {
  running: "green",
  paused: "yellow",
  pending: "blue",
  starting: "blue",
  stopped: "grey",
  missing: "red",
  error: "red",
};

/** A sandbox state as a coloured badge. */
export function StateBadge({ state }: { state: SandboxState }) {
  return (
    <Badge tone={tones[state]} testId="capsule-state">
      {state}
    </Badge>
  );
}
