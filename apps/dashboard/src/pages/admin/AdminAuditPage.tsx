import { PageHeader } from "../../ui/index.ts";
import { AuditTable } from "../audit/AuditPage.tsx";
import "../pages.css";

/** `/admin/audit`: platform-wide events that belong to no team (admin flags granted or removed). */
export function AdminAuditPage() {
  return (
    <section data-testid="page-admin-audit">
      <PageHeader title="Platform audit log" />
      <p className="muted">
        Events of no team, such as platform-admin flags granted or removed. Each team's own trail is on its
        Audit log page.
      </p>
      <AuditTable filters={{}} feed="platform" />
    </section>
  );
}
