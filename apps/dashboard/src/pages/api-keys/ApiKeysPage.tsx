import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import {
  type ApiKey,
  type CreatedApiKey,
  createApiKey,
  deleteApiKey,
  listApiKeys,
} from "../../api/api-keys.ts";
import { errorMessage } from "../../api/client.ts";
import {
  Button,
  type Column,
  ConfirmDialog,
  Dialog,
  Field,
  FormFooter,
  formatDate,
  formatRelative,
  PageHeader,
  QueryTable,
  useToast,
} from "../../ui/index.ts";
import { CopyButton } from "../shared/CopyButton.tsx";
import { keyNameProblem } from "./validate.ts";
import "../pages.css";

const KEYS = ["api-keys"] as const;

/** The create dialog: a name first, then the secret, shown once with a copy button. */
function CreateKeyDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [created, setCreated] = useState<CreatedApiKey>();

  const close = () => {
    setName("");
    setProblem(null);
    setError(undefined);
    setCreated(undefined);
    onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = keyNameProblem(name);
    setProblem(p);
    if (p) return;
    setBusy(true);
    setError(undefined);
    try {
      setCreated(await createApiKey(name.trim()));
      await queryClient.invalidateQueries({ queryKey: KEYS });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={open}
      title={created ? "Your new API key" : "Create an API key"}
      onClose={close}
      testId="create-api-key-dialog"
      footer={
        created ? (
          <Button variant="primary" onClick={close} data-testid="api-key-done">
            Done
          </Button>
        ) : (
          <FormFooter formId="create-api-key-form" busy={busy} onCancel={close} submitTestId="api-key-submit">
            Create key
          </FormFooter>
        )
      }
    >
      {created ? (
        <>
          <p className="notice">
            Copy this key now. It is shown only once: Wrenn keeps only a hash and cannot show it again.
          </p>
          <div className="secret-box">
            <code data-testid="api-key-secret">{created.key}</code>
            <CopyButton text={created.key} testId="copy-api-key" />
          </div>
          <p className="muted small">
            Use it as the <code>X-API-Key</code> header, or <code>WRENN_API_KEY</code> for the SDK and CLI.
          </p>
          <p className="muted small">
            For the official e2b SDK (<code>E2B_API_KEY</code>), the same key:{" "}
            <code data-testid="api-key-e2b">{created.e2b_key}</code>
          </p>
        </>
      ) : (
        <form id="create-api-key-form" onSubmit={submit} noValidate>
          <Field
            label="Name"
            error={problem ?? undefined}
            hint="What will use it: a CI job, a laptop, an agent."
          >
            {(a) => (
              <input
                {...a}
                value={name}
                maxLength={120}
                data-testid="api-key-name"
                autoFocus
                onChange={(e) => {
                  setName(e.target.value);
                  if (problem) setProblem(keyNameProblem(e.target.value));
                }}
              />
            )}
          </Field>
          {error ? (
            <p className="form-error" role="alert">
              {error}
            </p>
          ) : null}
        </form>
      )}
    </Dialog>
  );
}

/** `/api-keys`: the team's keys (prefix, creator, last use), create with the secret shown once, delete. */
export function ApiKeysPage() {
  const keys = useQuery({ queryKey: KEYS, queryFn: listApiKeys });
  const queryClient = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<ApiKey>();

  const columns: Column<ApiKey>[] = [
    { header: "Name", cell: (k) => <strong>{k.name}</strong> },
    { header: "Key", cell: (k) => <code className="mono">{k.prefix}…</code> },
    { header: "Created by", cell: (k) => k.created_by?.name || k.created_by?.email || "—", secondary: true },
    {
      header: "Created",
      cell: (k) => <span title={formatDate(k.created_at)}>{formatRelative(k.created_at)}</span>,
      secondary: true,
    },
    {
      header: "Last used",
      cell: (k) =>
        k.last_used_at ? (
          <span title={formatDate(k.last_used_at)}>{formatRelative(k.last_used_at)}</span>
        ) : (
          "Never"
        ),
    },
    {
      header: "Actions",
      align: "right",
      cell: (k) => (
        <Button size="sm" variant="danger" aria-label={`Delete key ${k.name}`} onClick={() => setDeleting(k)}>
          Delete
        </Button>
      ),
    },
  ];

  return (
    <section data-testid="page-api-keys">
      <PageHeader title="API keys">
        <Button variant="primary" data-testid="create-api-key" onClick={() => setCreating(true)}>
          Create key
        </Button>
      </PageHeader>
      <p className="muted">
        Keys act for the whole team from the SDK, the CLI and the REST API. Delete a key you no longer use: it
        stops working at once.
      </p>
      <QueryTable
        query={keys}
        loadingLabel="Loading keys"
        caption="API keys"
        testId="api-keys-table"
        columns={columns}
        rowKey={(k) => k.id}
        rowTestId={(k) => `api-key-row-${k.name}`}
        empty="No API keys yet. Create one to use the SDK or the CLI."
      />
      <CreateKeyDialog open={creating} onClose={() => setCreating(false)} />
      {deleting !== undefined ? (
        <ConfirmDialog
          open
          title="Delete API key"
          actionLabel="Delete key"
          body={
            <p>
              Delete <strong>{deleting?.name}</strong> (<code>{deleting?.prefix}…</code>)? Anything using it
              stops working at once.
            </p>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            if (!deleting) return;
            await deleteApiKey(deleting.id);
            await queryClient.invalidateQueries({ queryKey: KEYS });
            toast(`Deleted ${deleting.name}`, "success");
          }}
        />
      ) : null}
    </section>
  );
}
