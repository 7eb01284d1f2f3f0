import type { ButtonHTMLAttributes } from "react";
import { Spinner } from "./Spinner.tsx";

/** Visual weight of a {@link Button}. */
export type ButtonVariant = "primary" | "secondary" | "danger" | "ghost";

/** Props of {@link Button}: a native button plus a variant and a busy state. */
export interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: ButtonVariant;
  /** Shows a spinner and disables the button while an action runs. */
  busy?: boolean;
  size?: "sm" | "md";
}

/** The one button of the app (type="button" unless told otherwise, so it never submits by accident). */
export function Button({
  variant = "secondary",
  busy,
  size = "md",
  className,
  children,
  ...rest
}: ButtonProps) {
  return (
    <button
      type="button"
      {...rest}
      disabled={rest.disabled || busy}
      aria-busy={busy || undefined}
      className={`btn btn-${variant} btn-${size} ${className ?? ""}`}
    >
      {busy ? <Spinner size={14} label="" /> : null}
      {children}
    </button>
  );
}
