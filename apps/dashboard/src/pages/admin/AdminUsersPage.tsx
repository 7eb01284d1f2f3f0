import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { type AdminUser, listAdminUsers, setUserAdmin } from "../../api/admin.ts";
import { useMe } from "../../layout/AppLayout.tsx";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  formatRelative,
  PageHeader,
  QueryTable,
  SearchInput,
  useToast,
} from "../../ui/index.ts";
import { useServerSearch } from "../shared/useServerSearch.ts";
import "../pages.css";

const ADMIN_USERS = ["admin-users"] as const;

/** `/admin/users`: every user with their teams and the platform-admin flag (each change confirmed and audited). */
export function AdminUsersPage() {
  const me = useMe();
  const queryClient = useQueryClient();
  const toast = useToast();
  const search = useServerSearch(ADMIN_USERS, listAdminUsers);
  const [changing, setChanging] = useState<AdminUser>();

  const columns: Column<AdminUser>[] = [
    {
      header: "User",
      cell: (u) => (
        <span>
          <strong>{u.name || u.email}</strong>
          {u.id === me.data?.user?.id ? <span className="muted small"> (you)</span> : null}
        </span>
      ),
    },
    { header: "Email", cell: (u) => u.email },
    { header: "Teams", cell: (u) => u.team_count, align: "right", secondary: true },
    {
      header: "Sign-in",
      cell: (u) => (u.has_password === false ? "GitHub" : "Password"),
      secondary: true,
    },
    { header: "Joined", cell: (u) => formatRelative(u.created_at), secondary: true },
    {
      header: "Admin",
      cell: (u) => (u.is_admin ? <Badge tone="blue">admin</Badge> : <span className="muted">—</span>),
    },
    {
      header: "Actions",
      align: "right",
      // The API never lets an admin remove their own flag (someone must remain able to manage).
      cell: (u) =>
        u.id === me.data?.user?.id ? null : (
          <Button
            size="sm"
            variant={u.is_admin ? "danger" : "secondary"}
            data-testid={`admin-flag-${u.email}`}
            onClick={() => setChanging(u)}
          >
            {u.is_admin ? "Revoke admin" : "Make admin"}
          </Button>
        ),
    },
  ];

  return (
    <section data-testid="page-admin-users">
      <PageHeader title="Users">
        <SearchInput
          label="Filter users"
          placeholder="Filter by name or email"
          value={search.text}
          onChange={search.setText}
        />
      </PageHeader>
      <QueryTable
        query={search.rows}
        loadingLabel="Loading users"
        caption="Users"
        testId="admin-users-table"
        columns={columns}
        rowKey={(u) => u.id}
        rowTestId={(u) => `admin-user-row-${u.email}`}
        empty={search.text ? "No user matches." : "No users."}
      />
      {changing ? (
        <ConfirmDialog
          open
          title={changing.is_admin ? "Revoke platform admin" : "Make platform admin"}
          actionLabel={changing.is_admin ? "Revoke" : "Make admin"}
          body={
            <p>
              {changing.is_admin
                ? `${changing.email} will no longer see or change hosts, teams, users and templates of the platform.`
                : `${changing.email} will see and change every host, team, user and template of the platform.`}
              {changing.id === me.data?.user?.id && changing.is_admin
                ? " You are revoking your own admin rights: you leave this section at once."
                : ""}
            </p>
          }
          onClose={() => setChanging(undefined)}
          onConfirm={async () => {
            await setUserAdmin(changing.id, !changing.is_admin);
            await queryClient.invalidateQueries({ queryKey: ADMIN_USERS });
            toast(
              `${changing.email} ${changing.is_admin ? "is no longer" : "is now"} a platform admin`,
              "success",
            );
          }}
        />
      ) : null}
    </section>
  );
}
