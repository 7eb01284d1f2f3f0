import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import type { Me, Role } from "../../api/account.ts";
import { errorMessage } from "../../api/client.ts";
import { addMember, listMembers, type Member, removeMember, setMemberRole } from "../../api/team.ts";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  Field,
  formatDate,
  QueryTable,
  useToast,
} from "../../ui/index.ts";
import { MemberSearch } from "./MemberSearch.tsx";
import { assignableRoles, emailProblem, ROLES, roleAtLeast } from "./validate.ts";

function AddMemberForm({ me, members }: { me: Me; members: Member[] }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const roles = assignableRoles(me.role);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = emailProblem(email);
    setProblem(p);
    if (p) return;
    setBusy(true);
    try {
      const m = await addMember(me.team.id, email.trim(), role);
      await queryClient.invalidateQueries({ queryKey: ["team-members", me.team.id] });
      toast(`Added ${m.email} as ${m.role}`, "success");
      setEmail("");
      setRole("member");
    } catch (err) {
      setProblem(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  const inTeam = new Set(members.map((m) => m.email.toLowerCase()));
  return (
    <form
      onSubmit={submit}
      noValidate
      className="row"
      style={{ alignItems: "flex-start" }}
      data-testid="add-member-form"
    >
      <Field
        label="Add a member by email"
        error={problem ?? undefined}
        hint="They need a Wrenn account already."
      >
        {(a) => (
          <MemberSearch
            id={a.id}
            value={email}
            invalid={a["aria-invalid"]}
            describedBy={a["aria-describedby"]}
            exclude={inTeam}
            onChange={(v) => {
              setEmail(v);
              if (problem) setProblem(null);
            }}
          />
        )}
      </Field>
      <Field label="Role">
        {(a) => (
          <select
            {...a}
            value={role}
            data-testid="member-role"
            onChange={(e) => setRole(e.target.value as Role)}
          >
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Button type="submit" variant="primary" busy={busy} data-testid="add-member" style={{ marginTop: 26 }}>
        Add
      </Button>
    </form>
  );
}

/** The members panel: add (admins and owners), roles, remove. */
export function MembersSection({ me }: { me: Me }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const members = useQuery({
    queryKey: ["team-members", me.team.id],
    queryFn: () => listMembers(me.team.id),
  });
  const [removing, setRemoving] = useState<Member>();
  const canManage = roleAtLeast(me.role, "admin");
  const assignable = assignableRoles(me.role);
  const myId = me.user?.id;

  const changeRole = async (m: Member, role: Role) => {
    try {
      await setMemberRole(me.team.id, m.user_id, role);
      await queryClient.invalidateQueries({ queryKey: ["team-members", me.team.id] });
      if (m.user_id === myId) await queryClient.invalidateQueries({ queryKey: ["me"] });
      toast(`${m.email} is now ${role}`, "success");
    } catch (err) {
      toast(errorMessage(err), "error");
    }
  };

  // Admins cannot touch owners (the API refuses); nobody edits their own role here (use Leave).
  const editable = (m: Member) =>
    canManage && m.user_id !== myId && (m.role !== "owner" || me.role === "owner");

  const columns: Column<Member>[] = [
    {
      header: "Name",
      cell: (m) => (
        <span>
          <strong>{m.name || m.email}</strong>
          {m.user_id === myId ? <span className="muted small"> (you)</span> : null}
        </span>
      ),
    },
    { header: "Email", cell: (m) => m.email },
    {
      header: "Role",
      cell: (m) =>
        editable(m) ? (
          <select
            aria-label={`Role of ${m.email}`}
            data-testid={`member-role-${m.email}`}
            value={m.role}
            onChange={(e) => void changeRole(m, e.target.value as Role)}
          >
            {ROLES.filter((r) => assignable.includes(r) || r === m.role).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          <Badge tone={m.role === "owner" ? "blue" : m.role === "admin" ? "green" : "neutral"}>
            {m.role}
          </Badge>
        ),
    },
    { header: "Joined", cell: (m) => formatDate(m.joined_at), secondary: true },
    {
      header: "Actions",
      align: "right",
      cell: (m) =>
        editable(m) ? (
          <Button size="sm" variant="danger" aria-label={`Remove ${m.email}`} onClick={() => setRemoving(m)}>
            Remove
          </Button>
        ) : null,
    },
  ];

  return (
    <section className="panel page-section">
      <h2>Members</h2>
      {canManage && members.data ? <AddMemberForm me={me} members={members.data} /> : null}
      <QueryTable
        query={members}
        loadingLabel="Loading members"
        caption="Members"
        testId="members-table"
        columns={columns}
        rowKey={(m) => m.user_id}
        rowTestId={(m) => `member-row-${m.email}`}
      />
      {removing !== undefined ? (
        <ConfirmDialog
          open
          title="Remove member"
          actionLabel="Remove"
          body={
            <p>
              Remove <strong>{removing?.email}</strong> from {me.team.name}? They lose access to its capsules
              and keys at once.
            </p>
          }
          onClose={() => setRemoving(undefined)}
          onConfirm={async () => {
            if (!removing) return;
            await removeMember(me.team.id, removing.user_id);
            await queryClient.invalidateQueries({ queryKey: ["team-members", me.team.id] });
            toast(`Removed ${removing.email}`, "success");
          }}
        />
      ) : null}
    </section>
  );
}
