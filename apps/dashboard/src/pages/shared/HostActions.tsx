import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useRef, useState } from "react";
import { ApiError, errorMessage } from "../../api/client.ts";
import { addHostTag, deleteHost, type Host, removeHostTag } from "../../api/hosts.ts";
import { Badge, ConfirmDialog, useToast } from "../../ui/index.ts";
import { tagProblem } from "../byoc-hosts/register-command.ts";

/** A host's tags as removable chips plus a small "add tag" field. */
export function HostTags({
  host,
  queryKey,
  editable,
}: {
  host: Host;
  queryKey: readonly unknown[];
  editable: boolean;
}) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [tag, setTag] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const refresh = () => queryClient.invalidateQueries({ queryKey });
  const add = async (e: FormEvent) => {
    e.preventDefault();
    const p = tagProblem(tag.trim());
    setProblem(p);
    if (p) return;
    try {
      await addHostTag(host.id, tag.trim());
      setTag("");
      await refresh();
    } catch (err) {
      setProblem(errorMessage(err));
    }
  };
  return (
    <div className="tag-list">
      {host.tags.map((t) => (
        <Badge key={t} tone="neutral">
          {t}
          {editable ? (
            <button
              type="button"
              aria-label={`Remove tag ${t}`}
              onClick={async () => {
                try {
                  await removeHostTag(host.id, t);
                  await refresh();
                } catch (err) {
                  toast(errorMessage(err), "error");
                }
              }}
            >
              ×
            </button>
          ) : null}
        </Badge>
      ))}
      {editable ? (
        <form onSubmit={add} className="row" noValidate>
          <input
            aria-label={`New tag for ${host.id}`}
            aria-invalid={problem ? true : undefined}
            title={problem ?? undefined}
            placeholder="add tag"
            size={8}
            value={tag}
            data-testid={`host-tag-input-${host.id}`}
            onChange={(e) => {
              setTag(e.target.value);
              setProblem(null);
            }}
          />
          {problem ? (
            <span className="field-error small" role="alert">
              {problem}
            </span>
          ) : null}
        </form>
      ) : null}
    </div>
  );
}

/**
 * Deleting a host: a plain confirmation first; when the API answers 409 (sandboxes still on it),
 * a second one that names the consequence and deletes with `force`.
 */
export function DeleteHostFlow({ host, onDone }: { host: Host; onDone: () => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [needsForce, setNeedsForce] = useState<string>();
  // The confirm dialog closes itself after onConfirm returns; a 409 must not end the flow there.
  const escalated = useRef(false);
  const finish = async () => {
    await queryClient.invalidateQueries();
    toast(`Deleted host ${host.id}`, "success");
  };
  if (needsForce) {
    return (
      <ConfirmDialog
        key="force"
        open
        title="Host still has capsules"
        actionLabel="Destroy capsules and delete"
        body={
          <>
            <p>{needsForce}</p>
            <p>Delete the host anyway? Its capsules are destroyed.</p>
          </>
        }
        onClose={onDone}
        onConfirm={async () => {
          await deleteHost(host.id, true);
          await finish();
        }}
      />
    );
  }
  return (
    <ConfirmDialog
      key="plain"
      open
      title="Delete host"
      actionLabel="Delete host"
      body={
        <p>
          Delete host <code>{host.id}</code> ({host.address || "not registered"})? Its agent can no longer
          connect.
        </p>
      }
      onClose={() => {
        if (!escalated.current) onDone();
      }}
      onConfirm={async () => {
        try {
          await deleteHost(host.id);
          await finish();
        } catch (err) {
          if (err instanceof ApiError && err.status === 409) {
            escalated.current = true;
            setNeedsForce(err.message);
            return;
          }
          throw err;
        }
      }}
    />
  );
}
