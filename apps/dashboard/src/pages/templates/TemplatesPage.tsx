import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { errorMessage } from "../../api/client.ts";
import { createSandbox, listSandboxes } from "../../api/sandboxes.ts";
import { createSnapshot, deleteTemplate, listTemplates, type Template } from "../../api/templates.ts";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  Dialog,
  Field,
  FormFooter,
  formatBytes,
  formatDate,
  formatRelative,
  PageHeader,
  QueryTable,
  useToast,
} from "../../ui/index.ts";
import { sortTemplates, templateNameProblem } from "./validate.ts";
import "../pages.css";

const TEMPLATES = ["templates"] as const;

/** "Snapshot a capsule": pick a running capsule, optionally name the template, choose its kind. */
function SnapshotDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const running = useQuery({
    queryKey: ["sandboxes", "running-for-snapshot"],
    queryFn: ({ signal }) => listSandboxes({ state: "running", limit: 100 }, signal),
    enabled: open,
  });
  const [sandboxId, setSandboxId] = useState("");
  const [name, setName] = useState("");
  const [type, setType] = useState<"snapshot" | "image">("snapshot");
  const [problems, setProblems] = useState<{ sandbox?: string; name?: string }>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const close = () => {
    setSandboxId("");
    setName("");
    setType("snapshot");
    setProblems({});
    setError(undefined);
    onClose();
  };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = {
      ...(sandboxId ? {} : { sandbox: "Choose a running capsule" }),
      ...(templateNameProblem(name) ? { name: templateNameProblem(name) ?? "" } : {}),
    };
    setProblems(p);
    if (p.sandbox || p.name) return;
    setBusy(true);
    setError(undefined);
    try {
      const t = await createSnapshot({
        sandbox_id: sandboxId,
        type,
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      await queryClient.invalidateQueries({ queryKey: TEMPLATES });
      if (type === "image") await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
      toast(`Template ${t.name} is ready`, "success");
      close();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const options = running.data?.sandboxes ?? [];
  return (
    <Dialog
      open={open}
      title="Snapshot a capsule"
      onClose={close}
      testId="snapshot-dialog"
      footer={
        <FormFooter formId="snapshot-form" busy={busy} onCancel={close} submitTestId="snapshot-submit">
          Create template
        </FormFooter>
      }
    >
      <form id="snapshot-form" onSubmit={submit} noValidate>
        <Field
          label="Capsule"
          error={problems.sandbox}
          hint={
            running.isError
              ? errorMessage(running.error)
              : options.length === 0 && !running.isPending
                ? "No running capsules."
                : undefined
          }
        >
          {(a) => (
            <select
              {...a}
              value={sandboxId}
              data-testid="snapshot-sandbox"
              onChange={(e) => setSandboxId(e.target.value)}
            >
              <option value="">{running.isPending ? "Loading…" : "Choose a running capsule"}</option>
              {options.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.id} ({s.template}, {s.vcpus} vCPU, {s.memory_mb} MiB)
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field
          label="Template name"
          error={problems.name}
          hint="Optional: a name is generated when empty. An existing template of this name is replaced."
        >
          {(a) => (
            <input
              {...a}
              value={name}
              data-testid="snapshot-name"
              placeholder="my-env"
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <fieldset className="field">
          <legend>Kind</legend>
          <label className="choice">
            <input
              type="radio"
              name="snapshot-type"
              checked={type === "snapshot"}
              onChange={() => setType("snapshot")}
            />
            <span>
              <strong>Snapshot</strong>: memory and disk. New capsules start where this one is now, in well
              under a second. The capsule keeps running.
            </span>
          </label>
          <label className="choice">
            <input
              type="radio"
              name="snapshot-type"
              checked={type === "image"}
              data-testid="snapshot-type-image"
              onChange={() => setType("image")}
            />
            <span>
              <strong>Image</strong>: the disk only; new capsules boot from it. The capsule is destroyed.
            </span>
          </label>
        </fieldset>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </Dialog>
  );
}

/**
 * `/templates`: the team's templates and the platform's. A team deletes only its own (the API
 * refuses platform ones, and the page offers no button for them); any template starts a capsule.
 */
export function TemplatesPage() {
  const templates = useQuery({ queryKey: TEMPLATES, queryFn: listTemplates, refetchInterval: 30_000 });
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  const [snapshotting, setSnapshotting] = useState(false);
  const [deleting, setDeleting] = useState<Template>();
  const [starting, setStarting] = useState<string>();

  const start = async (t: Template) => {
    setStarting(t.name);
    try {
      const sb = await createSandbox({ template: t.name });
      await queryClient.invalidateQueries({ queryKey: ["sandboxes"] });
      toast(`Started ${sb.id} from ${t.name}`, "success");
      await navigate({ to: "/capsules/$id", params: { id: sb.id } });
    } catch (err) {
      toast(`Could not start from ${t.name}: ${errorMessage(err)}`, "error");
    } finally {
      setStarting(undefined);
    }
  };

  const columns: Column<Template>[] = [
    {
      header: "Name",
      cell: (t) => (
        <span className="row">
          <strong>{t.name}</strong>
          {t.platform ? (
            <Badge tone="blue" title="Provided by the platform for every team">
              Platform
            </Badge>
          ) : null}
        </span>
      ),
    },
    {
      header: "Kind",
      cell: (t) => (
        <Badge
          tone={t.type === "snapshot" ? "green" : "neutral"}
          title={t.type === "snapshot" ? "Memory and disk" : "Disk only (boots)"}
        >
          {t.type}
        </Badge>
      ),
    },
    { header: "Size", cell: (t) => `${t.vcpus} vCPU · ${t.memory_mb} MiB`, secondary: true },
    { header: "On disk", cell: (t) => formatBytes(t.size_bytes), secondary: true, align: "right" },
    {
      header: "Created",
      cell: (t) => <span title={formatDate(t.created_at)}>{formatRelative(t.created_at)}</span>,
      secondary: true,
    },
    {
      header: "Actions",
      align: "right",
      cell: (t) => (
        <span className="row" style={{ justifyContent: "flex-end" }}>
          <Button
            size="sm"
            variant="primary"
            busy={starting === t.name}
            disabled={starting !== undefined}
            data-testid={`template-start-${t.name}`}
            aria-label={`Start a capsule from ${t.name}`}
            onClick={() => void start(t)}
          >
            Start capsule
          </Button>
          {t.platform ? null : (
            <Button
              size="sm"
              variant="danger"
              data-testid={`template-delete-${t.name}`}
              aria-label={`Delete template ${t.name}`}
              onClick={() => setDeleting(t)}
            >
              Delete
            </Button>
          )}
        </span>
      ),
    },
  ];

  return (
    <section data-testid="page-templates">
      <PageHeader title="Templates & snapshots">
        <Button variant="primary" data-testid="snapshot-capsule" onClick={() => setSnapshotting(true)}>
          Snapshot a capsule
        </Button>
      </PageHeader>
      <p className="muted">
        New capsules start from a template. Snapshots hold memory and disk, so a capsule started from one
        resumes where the snapshot was taken. Platform templates are shared by every team and cannot be
        deleted here.
      </p>
      <QueryTable
        query={templates}
        loadingLabel="Loading templates"
        caption="Templates"
        testId="templates-table"
        columns={columns}
        select={(rows) => sortTemplates(rows)}
        rowKey={(t) => t.id}
        rowTestId={(t) => `template-row-${t.name}`}
        empty="No templates yet."
      />
      <SnapshotDialog open={snapshotting} onClose={() => setSnapshotting(false)} />
      {deleting !== undefined ? (
        <ConfirmDialog
          open
          title="Delete template"
          actionLabel="Delete template"
          body={
            <p>
              Delete <strong>{deleting?.name}</strong> and its files on every host? Capsules already started
              from it keep running; new ones cannot start from it.
            </p>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            if (!deleting) return;
            await deleteTemplate(deleting.name);
            await queryClient.invalidateQueries({ queryKey: TEMPLATES });
            toast(`Deleted ${deleting.name}`, "success");
          }}
        />
      ) : null}
    </section>
  );
}
