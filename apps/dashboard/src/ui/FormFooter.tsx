import type { ReactNode } from "react";
import { Button } from "./Button.tsx";

/**
 * The footer of a form dialog: Cancel, then the primary submit button. The dialog puts its footer
 * outside the `<form>`, so the submit button names the form by id.
 */
export function FormFooter({
  formId,
  busy,
  onCancel,
  submitTestId,
  children,
}: {
  formId: string;
  busy: boolean;
  onCancel: () => void;
  submitTestId: string;
  /** The submit button's label. */
  children: ReactNode;
}) {
  return (
    <>
      <Button onClick={onCancel}>Cancel</Button>
      <Button variant="primary" type="submit" form={formId} busy={busy} data-testid={submitTestId}>
        {children}
      </Button>
    </>
  );
}
