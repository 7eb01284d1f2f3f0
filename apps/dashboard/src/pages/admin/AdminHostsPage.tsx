import { useQuery } from "@tanstack/react-query";
import { type AdminHost, createPlatformHost, listAdminHosts } from "../../api/admin.ts";
import { Button, type Column, PageHeader, QueryView, Table } from "../../ui/index.ts";
import { HostTags } from "../shared/HostActions.tsx";
import { CertExpiry, capacityText, HostStatusBadge, LastSeen, ShortId } from "../shared/hosts.tsx";
import { useHostActions } from "../shared/useHostActions.tsx";
import { HOST_TABS, type HostTab, hostTab } from "./search.ts";
import "../pages.css";

const ADMIN_HOSTS = ["admin-hosts"] as const;
const TAB_LABELS: Record<HostTab, string> = { platform: "Platform", byoc: "BYOC" };

/**
 * `/admin/hosts?tab=platform|byoc`: every host with its status, capacity, certificate expiry and
 * how many capsules it holds; platform admins register platform hosts here.
 */
export function AdminHostsPage({ tab, onTab }: { tab: HostTab; onTab: (t: HostTab) => void }) {
  const hosts = useQuery({ queryKey: ADMIN_HOSTS, queryFn: listAdminHosts, refetchInterval: 10_000 });
  const { busy, issue, rowActions, dialogs } = useHostActions(ADMIN_HOSTS);

  const columns: Column<AdminHost>[] = [
    { header: "Host", cell: (h) => <ShortId id={h.id} /> },
    ...(tab === "byoc"
      ? [
          {
            header: "Team",
            cell: (h: AdminHost) => h.team_name ?? h.team_id ?? "—",
          } satisfies Column<AdminHost>,
        ]
      : []),
    { header: "Status", cell: (h) => <HostStatusBadge status={h.status} /> },
    { header: "Address", cell: (h) => h.address || <span className="muted">—</span>, secondary: true },
    { header: "Capacity", cell: (h) => <span className="capacity">{capacityText(h)}</span> },
    {
      header: "Capsules",
      align: "right",
      cell: (h) => (
        <span
          className="capacity"
          data-testid={`host-sandboxes-${h.id}`}
          title={`${h.sandboxes.running} running, ${h.sandboxes.paused} paused, ${h.sandboxes.live} in all`}
        >
          {h.sandboxes.running} running
          <br />
          {h.sandboxes.paused} paused
        </span>
      ),
    },
    { header: "Last seen", cell: (h) => <LastSeen iso={h.last_heartbeat_at} />, secondary: true },
    { header: "Certificate", cell: (h) => <CertExpiry iso={h.cert_expires_at} />, secondary: true },
    // Read-only here so the table fits 1280 px; a team tags its BYOC hosts on its own hosts page.
    {
      header: "Tags",
      cell: (h) => <HostTags host={h} queryKey={ADMIN_HOSTS} editable={false} />,
      secondary: true,
    },
    { header: "Actions", align: "right", cell: rowActions },
  ];

  const all = hosts.data ?? [];
  const count = (t: HostTab) => all.filter((h) => hostTab(h) === t).length;
  return (
    <section data-testid="page-admin-hosts">
      <PageHeader title="Hosts">
        {tab === "platform" ? (
          <Button
            variant="primary"
            busy={busy}
            data-testid="register-platform-host"
            onClick={() => void issue(createPlatformHost)}
          >
            Register a host
          </Button>
        ) : null}
      </PageHeader>
      <div
        className="tabs"
        role="tablist"
        aria-label="Host kind"
        // Arrow keys move between tabs, as the WAI-ARIA tabs pattern expects.
        onKeyDown={(e) => {
          if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
          const next =
            HOST_TABS[
              (HOST_TABS.indexOf(tab) + (e.key === "ArrowRight" ? 1 : HOST_TABS.length - 1)) %
                HOST_TABS.length
            ];
          if (next) {
            onTab(next);
            e.currentTarget
              .querySelector<HTMLButtonElement>(`[data-testid="admin-hosts-tab-${next}"]`)
              ?.focus();
          }
        }}
      >
        {HOST_TABS.map((t) => (
          <button
            key={t}
            type="button"
            role="tab"
            aria-selected={t === tab}
            tabIndex={t === tab ? 0 : -1}
            data-testid={`admin-hosts-tab-${t}`}
            onClick={() => onTab(t)}
          >
            {TAB_LABELS[t]} {hosts.data ? <span className="muted small">({count(t)})</span> : null}
          </button>
        ))}
      </div>
      <QueryView query={hosts} loadingLabel="Loading hosts">
        {(listed) => (
          <div role="tabpanel" aria-label={`${TAB_LABELS[tab]} hosts`}>
            <Table
              caption={`${TAB_LABELS[tab]} hosts`}
              testId="admin-hosts-table"
              columns={columns}
              rows={listed.filter((h) => hostTab(h) === tab)}
              rowKey={(h) => h.id}
              rowTestId={(h) => `host-row-${h.id}`}
              empty={
                tab === "platform"
                  ? "No platform hosts. Register one to run capsules."
                  : "No team has a host of its own."
              }
            />
          </div>
        )}
      </QueryView>
      {dialogs}
    </section>
  );
}
