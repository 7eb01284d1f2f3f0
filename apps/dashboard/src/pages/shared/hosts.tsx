import type { Host, HostStatus } from "../../api/hosts.ts";
import { Badge, type BadgeTone, formatDate, formatRelative } from "../../ui/index.ts";

const STATUS_TONE: Record<HostStatus, BadgeTone> = {
  online: "green",
  pending: "blue",
  draining: "yellow",
  unreachable: "red",
  offline: "grey",
};

/** A host's status as a coloured badge. */
export function HostStatusBadge({ status }: { status: HostStatus }) {
  return (
    <Badge tone={STATUS_TONE[status]} testId="host-status">
      {status}
    </Badge>
  );
}

/** "4 vCPU · 16 GiB · 200 GB" (or "—" for a host that has not registered and reported it yet). */
export function capacityText(h: Pick<Host, "cpu_count" | "memory_mb" | "disk_gb">): string {
  if (!h.cpu_count && !h.memory_mb) return "—";
  const mem = h.memory_mb >= 1024 ? `${Math.round(h.memory_mb / 1024)} GiB` : `${h.memory_mb} MiB`;
  return `${h.cpu_count} vCPU · ${mem} · ${h.disk_gb} GB`;
}

/** Days until `iso`, negative once past; null without a date. */
export function daysUntil(iso: string | null, now = Date.now()): number | null {
  if (!iso) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : Math.floor((t - now) / 86_400_000);
}

/** The mTLS certificate expiry, warning in colour when it is close (renewal should have happened). */
export function CertExpiry({ iso }: { iso: string | null }) {
  const days = daysUntil(iso);
  if (days === null) return <span className="muted">no certificate</span>;
  const tone: BadgeTone = days < 0 ? "red" : days < 2 ? "yellow" : "neutral";
  return (
    <span title={formatDate(iso)}>
      {tone === "neutral" ? (
        formatRelative(iso)
      ) : (
        <Badge tone={tone}>{days < 0 ? "expired" : formatRelative(iso)}</Badge>
      )}
    </span>
  );
}

/** When the host last heartbeated, relative, with the exact time on hover. */
export function LastSeen({ iso }: { iso: string | null }) {
  return iso ? (
    <span title={formatDate(iso)}>{formatRelative(iso)}</span>
  ) : (
    <span className="muted">never</span>
  );
}

/**
 * A long id cut to its first characters by CSS (the full id is in the tooltip). The whole id stays
 * the element's text, so copying it or finding it on the page (tests do) sees the full id.
 */
export function ShortId({ id }: { id: string }) {
  return (
    <code className="mono small short-id" title={id}>
      {id}
    </code>
  );
}
