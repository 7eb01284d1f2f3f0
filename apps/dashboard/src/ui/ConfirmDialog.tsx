import { type ReactNode, useState } from "react";
import { errorMessage } from "../api/client.ts";
import { Button } from "./Button.tsx";
import { Dialog } from "./Dialog.tsx";

/**
 * "Are you sure?" for destructive actions. `confirmText`, when given, must be typed exactly before
 * the action is enabled (deleting a team). Errors from `onConfirm` are shown inside the dialog.
 */
export function ConfirmDialog({
  open,
  title,
  body,
  actionLabel,
  confirmText,
  onConfirm,
  onClose,
}: {
  open: boolean;
  title: string;
  body: ReactNode;
  actionLabel: string;
  confirmText?: string;
  onConfirm: () => Promise<unknown>;
  onClose: () => void;
}) {
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const blocked = confirmText !== undefined && typed !== confirmText;
  const close = () => {
    setTyped("");
    setError(undefined);
    onClose();
  };
  return (
    <Dialog
      open={open}
      title={title}
      onClose={close}
      testId="confirm-dialog"
      footer={
        <>
          <Button onClick={close}>Cancel</Button>
          <Button
            variant="danger"
            busy={busy}
            disabled={blocked}
            data-testid="confirm-action"
            onClick={async () => {
              setBusy(true);
              setError(undefined);
              try {
                await onConfirm();
                close();
              } catch (err) {
                setError(errorMessage(err));
              } finally {
                setBusy(false);
              }
            }}
          >
            {actionLabel}
          </Button>
        </>
      }
    >
      <div>{body}</div>
      {confirmText !== undefined ? (
        <label className="field">
          <span>
            Type <code>{confirmText}</code> to confirm
          </span>
          <input value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
        </label>
      ) : null}
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
    </Dialog>
  );
}
