import { useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { listTeams, type Me, switchTeam } from "../../api/account.ts";
import { errorMessage } from "../../api/client.ts";
import { deleteTeam, leaveTeam, renameTeam } from "../../api/team.ts";
import { session } from "../../auth/session.ts";
import { useMe } from "../../layout/AppLayout.tsx";
import { Button, ConfirmDialog, Field, Loading, PageHeader, useToast } from "../../ui/index.ts";
import { MembersSection } from "./Members.tsx";
import { roleAtLeast, teamAfterLeaving, teamNameProblem } from "./validate.ts";
import "../pages.css";

/** After the current team is gone for this user: a session on another of their teams, or sign-out. */
function useMoveToAnotherTeam() {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  return async (goneId: string, what: string) => {
    const next = teamAfterLeaving(await listTeams(), goneId);
    if (!next) {
      session.signOut();
      queryClient.clear();
      await navigate({ to: "/login" });
      return;
    }
    const s = await switchTeam(next.id);
    session.signIn(s.token);
    queryClient.clear();
    await navigate({ to: "/capsules" });
    toast(`${what} Now in ${s.team.name}.`, "success");
  };
}

function RenameForm({ me }: { me: Me }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const canRename = roleAtLeast(me.role, "admin");
  const [name, setName] = useState(me.team.name);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = teamNameProblem(name);
    setProblem(p);
    if (p) return;
    setBusy(true);
    try {
      const t = await renameTeam(me.team.id, name.trim());
      await Promise.all([
        queryClient.invalidateQueries({ queryKey: ["me"] }),
        queryClient.invalidateQueries({ queryKey: ["teams"] }),
      ]);
      toast(`Renamed to ${t.name}`, "success");
    } catch (err) {
      setProblem(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="panel page-section" onSubmit={submit} noValidate data-testid="team-rename-form">
      <div className="row" style={{ alignItems: "flex-start" }}>
        <Field
          label="Team name"
          error={problem ?? undefined}
          hint={canRename ? `Slug: ${me.team.slug}` : "Only admins and owners can rename the team."}
        >
          {(a) => (
            <input
              {...a}
              value={name}
              maxLength={120}
              disabled={!canRename}
              data-testid="team-name"
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        {canRename ? (
          <Button
            type="submit"
            variant="primary"
            busy={busy}
            disabled={name.trim() === me.team.name}
            data-testid="team-rename"
            style={{ marginTop: 26 }}
          >
            Save
          </Button>
        ) : null}
      </div>
    </form>
  );
}

function LeaveAndDelete({ me }: { me: Me }) {
  const [leaving, setLeaving] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const moveOn = useMoveToAnotherTeam();
  const isOwner = me.role === "owner";
  return (
    <section className="panel page-section danger-zone">
      <h2>Leave or delete</h2>
      <div className="row">
        <Button data-testid="leave-team" onClick={() => setLeaving(true)}>
          Leave team
        </Button>
        {isOwner ? (
          <Button variant="danger" data-testid="delete-team" onClick={() => setDeleting(true)}>
            Delete team
          </Button>
        ) : null}
      </div>
      <p className="muted small">
        {isOwner
          ? "A team's last owner cannot leave it: make someone else owner first, or delete the team."
          : "Only owners can delete the team."}
      </p>
      {leaving ? (
        <ConfirmDialog
          open
          title="Leave team"
          actionLabel="Leave"
          body={
            <p>
              Leave <strong>{me.team.name}</strong>? You lose access to its capsules; a member has to add you
              back.
            </p>
          }
          onClose={() => setLeaving(false)}
          onConfirm={async () => {
            await leaveTeam(me.team.id);
            await moveOn(me.team.id, `You left ${me.team.name}.`);
          }}
        />
      ) : null}
      {deleting ? (
        <ConfirmDialog
          open
          title="Delete team"
          actionLabel="Delete team"
          confirmText={me.team.name}
          body={
            <p>
              Delete <strong>{me.team.name}</strong> for every member? Its API keys stop working and its
              capsules can no longer be reached. This cannot be undone.
            </p>
          }
          onClose={() => setDeleting(false)}
          onConfirm={async () => {
            await deleteTeam(me.team.id);
            await moveOn(me.team.id, `Deleted ${me.team.name}.`);
          }}
        />
      ) : null}
    </section>
  );
}

/** `/team`: the current team's name, members (add with autocomplete, roles, remove), leave and delete. */
export function TeamPage() {
  const me = useMe();
  return (
    <section data-testid="page-team">
      <PageHeader title="Team" />
      {me.data ? (
        <>
          <RenameForm key={me.data.team.id} me={me.data} />
          <MembersSection me={me.data} />
          <LeaveAndDelete me={me.data} />
        </>
      ) : (
        <Loading />
      )}
    </section>
  );
}
