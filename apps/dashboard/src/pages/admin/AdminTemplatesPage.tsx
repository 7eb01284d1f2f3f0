import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { deleteAdminTemplate, listAdminTemplates } from "../../api/admin.ts";
import type { Template } from "../../api/sandboxes.ts";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  formatBytes,
  formatRelative,
  PageHeader,
  QueryTable,
  SearchInput,
  useToast,
} from "../../ui/index.ts";
import { matchesQuery } from "./search.ts";
import "../pages.css";

const ADMIN_TEMPLATES = ["admin-templates"] as const;

/** `/admin/templates`: every team's templates and the platform's, with delete. */
export function AdminTemplatesPage() {
  const templates = useQuery({ queryKey: ADMIN_TEMPLATES, queryFn: listAdminTemplates });
  const queryClient = useQueryClient();
  const toast = useToast();
  const [query, setQuery] = useState("");
  const [deleting, setDeleting] = useState<Template>();

  const columns: Column<Template>[] = [
    {
      header: "Name",
      cell: (t) => (
        <span className="row">
          <strong>{t.name}</strong>
          {t.platform ? <Badge tone="blue">Platform</Badge> : null}
        </span>
      ),
    },
    {
      header: "Team",
      cell: (t) => (t.platform ? "—" : <code className="mono small">{t.team_id}</code>),
      secondary: true,
    },
    {
      header: "Kind",
      cell: (t) => <Badge tone={t.type === "snapshot" ? "green" : "neutral"}>{t.type}</Badge>,
    },
    { header: "Size", cell: (t) => `${t.vcpus} vCPU · ${t.memory_mb} MiB`, secondary: true },
    { header: "On disk", cell: (t) => formatBytes(t.size_bytes), align: "right", secondary: true },
    { header: "Created", cell: (t) => formatRelative(t.created_at), secondary: true },
    {
      header: "Actions",
      align: "right",
      cell: (t) => (
        <Button
          size="sm"
          variant="danger"
          aria-label={`Delete template ${t.name}`}
          data-testid={`admin-template-delete-${t.name}`}
          onClick={() => setDeleting(t)}
        >
          Delete
        </Button>
      ),
    },
  ];

  return (
    <section data-testid="page-admin-templates">
      <PageHeader title="All templates">
        <SearchInput
          label="Filter templates"
          placeholder="Filter by name or team"
          value={query}
          onChange={setQuery}
        />
      </PageHeader>
      <QueryTable
        query={templates}
        loadingLabel="Loading templates"
        caption="All templates"
        testId="admin-templates-table"
        columns={columns}
        select={(all) => all.filter((t) => matchesQuery([t.name, t.team_id, t.type], query))}
        rowKey={(t) => t.id}
        rowTestId={(t) => `admin-template-row-${t.name}`}
        empty={query ? "No template matches." : "No templates."}
      />
      {deleting ? (
        <ConfirmDialog
          open
          title="Delete template"
          actionLabel="Delete template"
          body={
            <p>
              Delete <strong>{deleting.name}</strong>{" "}
              {deleting.platform ? "(a platform template every team can use)" : `of team ${deleting.team_id}`}{" "}
              and its files on every host?
            </p>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await deleteAdminTemplate(deleting.name, deleting.platform ? undefined : deleting.team_id);
            await queryClient.invalidateQueries({ queryKey: ADMIN_TEMPLATES });
            toast(`Deleted ${deleting.name}`, "success");
          }}
        />
      ) : null}
    </section>
  );
}
