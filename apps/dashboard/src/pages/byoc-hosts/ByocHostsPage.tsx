import { useQuery } from "@tanstack/react-query";
import { createByocHost, type Host, listHosts } from "../../api/hosts.ts";
import { useMe } from "../../layout/AppLayout.tsx";
import { Button, type Column, ErrorView, Loading, PageHeader, Table } from "../../ui/index.ts";
import { HostTags } from "../shared/HostActions.tsx";
import { CertExpiry, capacityText, HostStatusBadge, LastSeen, ShortId } from "../shared/hosts.tsx";
import { useHostActions } from "../shared/useHostActions.tsx";
import "../pages.css";

const HOSTS = ["byoc-hosts"] as const;

/** `/hosts`: the team's own machines (BYOC): register with a one-time token, status, tags, delete. */
export function ByocHostsPage() {
  const me = useMe();
  const isByoc = me.data?.team.is_byoc === true;
  const isOwner = me.data?.role === "owner";
  const hosts = useQuery({ queryKey: HOSTS, queryFn: listHosts, enabled: isByoc, refetchInterval: 10_000 });
  const { busy, issue, rowActions, dialogs } = useHostActions(HOSTS);

  // Platform admins list every host here too; this page is about the team's own.
  const teamHosts = (hosts.data ?? []).filter((h) => h.type === "byoc" && h.team_id === me.data?.team.id);
  const columns: Column<Host>[] = [
    { header: "Host", cell: (h) => <ShortId id={h.id} /> },
    { header: "Status", cell: (h) => <HostStatusBadge status={h.status} /> },
    { header: "Address", cell: (h) => h.address || <span className="muted">—</span> },
    { header: "Capacity", cell: (h) => <span className="capacity">{capacityText(h)}</span>, secondary: true },
    { header: "Tags", cell: (h) => <HostTags host={h} queryKey={HOSTS} editable={isOwner} /> },
    { header: "Last seen", cell: (h) => <LastSeen iso={h.last_heartbeat_at} />, secondary: true },
    { header: "Certificate", cell: (h) => <CertExpiry iso={h.cert_expires_at} />, secondary: true },
    {
      header: "Actions",
      align: "right",
      cell: (h) => (isOwner ? rowActions(h) : null),
    },
  ];

  let body: React.ReactNode;
  if (me.isPending) body = <Loading />;
  else if (!isByoc) {
    body = (
      <p className="notice" data-testid="byoc-disabled">
        Bring-your-own-compute is not enabled for this team. A platform admin can turn it on; then your own
        machines run this team's capsules.
      </p>
    );
  } else if (hosts.isPending) body = <Loading label="Loading hosts" />;
  else if (hosts.isError) body = <ErrorView error={hosts.error} onRetry={() => void hosts.refetch()} />;
  else {
    body = (
      <Table
        caption="Hosts"
        testId="byoc-hosts-table"
        columns={columns}
        rows={teamHosts}
        rowKey={(h) => h.id}
        rowTestId={(h) => `host-row-${h.id}`}
        empty="No hosts yet. Register a machine to run this team's capsules on it."
      />
    );
  }

  return (
    <section data-testid="page-hosts">
      <PageHeader title="BYOC hosts">
        {isByoc && isOwner ? (
          <Button
            variant="primary"
            busy={busy}
            data-testid="register-host"
            onClick={() => void issue(() => createByocHost({}))}
          >
            Register a host
          </Button>
        ) : null}
      </PageHeader>
      {isByoc && !isOwner ? <p className="muted small">Only team owners register and delete hosts.</p> : null}
      {body}
      {dialogs}
    </section>
  );
}
