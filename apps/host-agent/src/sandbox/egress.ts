import { assertSafeName, checkEgressPolicy, type EgressPolicy, errors, isOpenEgress } from "@wrenn/common";
import { saveRecord } from "./records.ts";
import type { SandboxEntry, SandboxTable } from "./table.ts";
import type { SandboxView } from "./types.ts";

/**
 * A policy as the agent keeps it: checked again (the record outlives the request), and
 * undefined for the open policy so records of unrestricted sandboxes stay as they were.
 */
export function checkedEgress(policy: EgressPolicy | undefined): EgressPolicy | undefined {
  if (!policy) return undefined;
  const checked = checkEgressPolicy({
    allowInternet: policy.allowInternet,
    allowOut: [...policy.allowOut],
    denyOut: [...policy.denyOut],
  });
  return isOpenEgress(checked) ? undefined : checked;
}

/**
 * Enforces the entry's egress policy on its network lease. Every path that gives a sandbox a
 * network calls it before the guest runs there: create (also when the network, or a whole VM,
 * came from a pool made before the policy was known), resume, and the take-over of a running VM
 * after an agent restart (the namespace kept its rules, the filter's DNS socket did not survive).
 * A lease that cannot enforce a restrictive policy (user-mode networking) is refused rather than
 * silently letting everything out.
 */
export async function applySandboxEgress(entry: SandboxEntry): Promise<void> {
  const policy = entry.record.egress;
  const lease = entry.lease;
  if (!lease) return;
  if (lease.applyEgress) {
    await lease.applyEgress(policy ?? { allowInternet: true, allowOut: [], denyOut: [] });
  } else if (policy) {
    throw errors.failedPrecondition(
      "egress rules need the host agent's namespace networking (--network netns); this agent cannot enforce them",
    );
  }
}

/**
 * Replaces a sandbox's egress policy (E2B's update-network): a running sandbox gets it on its
 * network at once, a paused one when it resumes. Saved in the record only once applied, so a
 * failed update leaves the old policy in force and on disk.
 */
export function updateSandboxEgress(
  table: SandboxTable,
  sandboxId: string,
  policy: EgressPolicy,
): Promise<SandboxView> {
  const id = assertSafeName(sandboxId, "sandbox_id");
  const egress = checkedEgress(policy);
  return table.locked(id, async () => {
    const entry = table.find(id);
    const { state } = entry.record;
    if (state !== "running" && state !== "paused") {
      throw errors.failedPrecondition(`cannot change the network of a sandbox that is ${state}`);
    }
    const previous = entry.record.egress;
    entry.record.egress = egress;
    try {
      if (state === "running") await applySandboxEgress(entry);
      await saveRecord(table.options.layout, entry.record);
    } catch (err) {
      entry.record.egress = previous;
      throw table.failure(err, `the network of sandbox ${id} could not be updated`);
    }
    table.logger.debug({ sandboxId: id, egress }, "egress policy changed");
    return table.view(entry);
  });
}
