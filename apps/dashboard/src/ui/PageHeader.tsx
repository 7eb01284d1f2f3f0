import type { ReactNode } from "react";

/** A page's title row: the h1 (focused after navigation by the layout) and its actions. */
export function PageHeader({
  title,
  children,
  badge,
}: {
  title: string;
  children?: ReactNode;
  badge?: ReactNode;
}) {
  return (
    <div className="page-header">
      <h1>
        {title} {badge}
      </h1>
      <div className="page-actions">{children}</div>
    </div>
  );
}
