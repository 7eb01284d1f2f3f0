import { useQuery, useQueryClient } from "@tanstack/react-query";
import { Link, Outlet, useNavigate, useRouterState } from "@tanstack/react-router";
import { useEffect, useRef, useState } from "react";
import { getMe, listTeams, type Me, switchTeam } from "../api/account.ts";
import { errorMessage } from "../api/client.ts";
import { session } from "../auth/session.ts";
import { ErrorView, Loading, useToast } from "../ui/index.ts";
import { type NavEntry, navEntries } from "./nav.ts";

/** Query keys of the session-wide data every page may read. */
export const meQueryKey = ["me"] as const;

/** The signed-in user, team and role (cached; refetched on team switch). */
export function useMe() {
  return useQuery({ queryKey: meQueryKey, queryFn: getMe, staleTime: 30_000 });
}

function TeamSwitcher({ me }: { me: Me }) {
  const teams = useQuery({ queryKey: ["teams"], queryFn: listTeams, staleTime: 30_000 });
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  const [busy, setBusy] = useState(false);
  const options = teams.data ?? [me.team];
  return (
    <div className="team-switcher">
      <label htmlFor="team-switcher" className="sr-only">
        Team
      </label>
      <select
        id="team-switcher"
        data-testid="team-switcher"
        value={me.team.id}
        disabled={busy}
        onChange={async (e) => {
          setBusy(true);
          try {
            const s = await switchTeam(e.target.value);
            session.signIn(s.token);
            // Everything cached belongs to the old team.
            queryClient.clear();
            await navigate({ to: "/capsules" });
            toast(`Switched to ${s.team.name}`, "success");
          } catch (err) {
            toast(errorMessage(err), "error");
          } finally {
            setBusy(false);
          }
        }}
      >
        {options.map((t) => (
          <option key={t.id} value={t.id}>
            {t.name}
          </option>
        ))}
      </select>
    </div>
  );
}

function NavList({ entries, onNavigate }: { entries: NavEntry[]; onNavigate: () => void }) {
  return (
    <ul className="nav-list">
      {entries.map((e) => (
        <li key={e.to}>
          <Link
            to={e.to as "/"}
            data-testid={e.testId}
            activeProps={{ className: "active", "aria-current": "page" }}
            activeOptions={{ exact: false }}
            onClick={onNavigate}
          >
            {e.label}
          </Link>
        </li>
      ))}
    </ul>
  );
}

/** The signed-in frame: sidebar (team switcher, navigation, admin switch, user, logout) and the page. */
export function AppLayout() {
  const me = useMe();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const pathname = useRouterState({ select: (s) => s.location.pathname });
  const [menuOpen, setMenuOpen] = useState(false);
  const adminMode = pathname.startsWith("/admin");
  const main = useRef<HTMLElement>(null);

  // After navigation, move focus to the page so keyboard and screen-reader users start there.
  // biome-ignore lint/correctness/useExhaustiveDependencies: runs on path change on purpose
  useEffect(() => {
    main.current?.focus({ preventScroll: true });
    setMenuOpen(false);
  }, [pathname]);

  if (me.isPending) return <Loading label="Loading your account" />;
  if (me.isError) {
    return (
      <div className="error-page">
        <ErrorView error={me.error} onRetry={() => void me.refetch()} />
      </div>
    );
  }
  const data = me.data;
  const isAdmin = data.user?.is_admin === true;
  const visible = navEntries.filter((e) => e.visible?.(data) ?? true);
  const section = adminMode && isAdmin ? "admin" : "main";

  return (
    <div className={`shell${menuOpen ? " menu-open" : ""}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <button
          type="button"
          className="icon-btn menu-btn"
          aria-label="Menu"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((o) => !o)}
        >
          ☰
        </button>
        <span className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Wrenn
        </span>
      </header>
      <nav id="sidebar" className="sidebar" aria-label="Main">
        <div className="brand sidebar-brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Wrenn
        </div>
        <TeamSwitcher me={data} />
        {section === "admin" ? <div className="nav-section">Platform admin</div> : null}
        <NavList
          entries={visible.filter((e) => e.section === section)}
          onNavigate={() => setMenuOpen(false)}
        />
        <div className="sidebar-foot">
          {isAdmin ? (
            <label className="switch">
              <input
                type="checkbox"
                role="switch"
                aria-checked={section === "admin"}
                data-testid="admin-switch"
                checked={section === "admin"}
                onChange={(e) => void navigate({ to: e.target.checked ? "/admin/hosts" : "/capsules" })}
              />
              <span>Admin</span>
            </label>
          ) : null}
          <div className="user-box">
            <span className="user-name" data-testid="user-name" title={data.user?.email}>
              {data.user?.name ?? "API key"}
            </span>
            <button
              type="button"
              className="link-btn"
              data-testid="logout"
              onClick={() => {
                session.signOut();
                queryClient.clear();
                void navigate({ to: "/login" });
              }}
            >
              Log out
            </button>
          </div>
        </div>
      </nav>
      <main id="main" className="content" ref={main} tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
