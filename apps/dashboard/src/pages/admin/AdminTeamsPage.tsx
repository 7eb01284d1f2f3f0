import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type AdminTeam, listAdminTeams, setTeamByoc } from "../../api/admin.ts";
import { errorMessage } from "../../api/client.ts";
import {
  type Column,
  formatRelative,
  PageHeader,
  QueryTable,
  SearchInput,
  useToast,
} from "../../ui/index.ts";
import { useServerSearch } from "../shared/useServerSearch.ts";
import "../pages.css";

const ADMIN_TEAMS = ["admin-teams"] as const;

/** The BYOC switch of one team: flips at once, rolls back with a message if the API refuses. */
function ByocSwitch({ team }: { team: AdminTeam }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  return (
    <label className="switch">
      <input
        type="checkbox"
        role="switch"
        checked={team.is_byoc}
        aria-checked={team.is_byoc}
        disabled={busy}
        aria-label={`Bring your own compute for ${team.name}`}
        data-testid={`byoc-toggle-${team.id}`}
        onChange={async (e) => {
          const on = e.target.checked;
          setBusy(true);
          try {
            await setTeamByoc(team.id, on);
            await queryClient.invalidateQueries({ queryKey: ADMIN_TEAMS });
            // The admin's own team may be the one changed: the sidebar's BYOC entry follows it.
            await queryClient.invalidateQueries({ queryKey: ["me"] });
            toast(`${team.name}: BYOC ${on ? "on" : "off"}`, "success");
          } catch (err) {
            toast(errorMessage(err), "error");
          } finally {
            setBusy(false);
          }
        }}
      />
      <span>{team.is_byoc ? "On" : "Off"}</span>
    </label>
  );
}

const columns: Column<AdminTeam>[] = [
  {
    header: "Team",
    cell: (t) => (
      <span>
        <strong>{t.name}</strong> <span className="muted small">{t.slug}</span>
      </span>
    ),
  },
  { header: "Members", cell: (t) => t.member_count, align: "right" },
  {
    header: "Capsules",
    align: "right",
    cell: (t) => (
      <span className="capacity" title={`${t.sandboxes.live} not destroyed`}>
        {t.sandboxes.running} running · {t.sandboxes.paused} paused
      </span>
    ),
    secondary: true,
  },
  { header: "Created", cell: (t) => formatRelative(t.created_at), secondary: true },
  { header: "BYOC", cell: (t) => <ByocSwitch team={t} /> },
];

/** `/admin/teams`: every team with members and capsules, and the BYOC switch (audited by the API). */
export function AdminTeamsPage() {
  const search = useServerSearch(ADMIN_TEAMS, listAdminTeams);
  return (
    <section data-testid="page-admin-teams">
      <PageHeader title="Teams">
        <SearchInput
          label="Filter teams"
          placeholder="Filter by name or slug"
          value={search.text}
          onChange={search.setText}
        />
      </PageHeader>
      <QueryTable
        query={search.rows}
        loadingLabel="Loading teams"
        caption="Teams"
        testId="admin-teams-table"
        columns={columns}
        rowKey={(t) => t.id}
        rowTestId={(t) => `admin-team-row-${t.id}`}
        empty={search.text ? "No team matches." : "No teams."}
      />
    </section>
  );
}
