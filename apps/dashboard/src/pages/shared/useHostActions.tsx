import { useQueryClient } from "@tanstack/react-query";
import { type ReactNode, useState } from "react";
import { errorMessage } from "../../api/client.ts";
import { type Host, type HostWithToken, regenerateHostToken } from "../../api/hosts.ts";
import { Button, useToast } from "../../ui/index.ts";
import { DeleteHostFlow } from "./HostActions.tsx";
import { RegisterHostDialog } from "./RegisterHostDialog.tsx";

/** What a hosts page gets from {@link useHostActions}. */
export interface HostActions {
  /** True while a registration token is being issued (the register button shows it). */
  busy: boolean;
  /** Issues a token with `make` (a new host or a fresh token) and shows it once in the register dialog. */
  issue: (make: () => Promise<HostWithToken>) => Promise<void>;
  /** A row's "New token" (pending hosts only) and "Delete" buttons. */
  rowActions: (host: Host) => ReactNode;
  /** The register and delete dialogs; render once, at the end of the page. */
  dialogs: ReactNode;
}

/**
 * Registering, re-issuing and deleting hosts, shared by the team's BYOC hosts page and the
 * platform admin's hosts page: both list hosts under `queryKey` and act on them the same way.
 */
export function useHostActions(queryKey: readonly unknown[]): HostActions {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [issued, setIssued] = useState<HostWithToken>();
  const [deleting, setDeleting] = useState<Host>();
  const [busy, setBusy] = useState(false);

  const issue = async (make: () => Promise<HostWithToken>) => {
    setBusy(true);
    try {
      setIssued(await make());
      await queryClient.invalidateQueries({ queryKey });
    } catch (err) {
      toast(errorMessage(err), "error");
    } finally {
      setBusy(false);
    }
  };

  const rowActions = (h: Host) => (
    <span className="row" style={{ justifyContent: "flex-end" }}>
      {h.status === "pending" ? (
        <Button size="sm" onClick={() => void issue(() => regenerateHostToken(h.id))}>
          New token
        </Button>
      ) : null}
      <Button size="sm" variant="danger" aria-label={`Delete host ${h.id}`} onClick={() => setDeleting(h)}>
        Delete
      </Button>
    </span>
  );

  const dialogs = (
    <>
      {issued ? <RegisterHostDialog issued={issued} onClose={() => setIssued(undefined)} /> : null}
      {deleting ? <DeleteHostFlow host={deleting} onDone={() => setDeleting(undefined)} /> : null}
    </>
  );

  return { busy, issue, rowActions, dialogs };
}
