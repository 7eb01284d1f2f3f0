import type { ReactNode } from "react";

/** Colour families of a {@link Badge}. */
export type BadgeTone = "neutral" | "green" | "yellow" | "red" | "blue" | "grey";

/** A small coloured label (states, roles, counts). */
export function Badge({
  tone = "neutral",
  children,
  title,
  testId,
}: {
  tone?: BadgeTone;
  children: ReactNode;
  title?: string;
  testId?: string;
}) {
  return (
    <span className={`badge badge-${tone}`} title={title} data-testid={testId}>
      {children}
    </span>
  );
}
