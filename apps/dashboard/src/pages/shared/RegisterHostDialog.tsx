import { useState } from "react";
import type { HostWithToken } from "../../api/hosts.ts";
import { Button, Dialog, Field } from "../../ui/index.ts";
import { addressProblem, registerCommand } from "../byoc-hosts/register-command.ts";
import { CopyButton } from "./CopyButton.tsx";

/**
 * Shows a new host's one-time registration token and the exact command to run on that machine.
 * The address field only fills in the command (the agent reports its address when it registers).
 */
export function RegisterHostDialog({ issued, onClose }: { issued: HostWithToken; onClose: () => void }) {
  const [address, setAddress] = useState("");
  const problem = address.trim() ? addressProblem(address) : null;
  const command = registerCommand({
    token: issued.registration_token,
    controlPlaneUrl: window.location.origin,
    address: problem ? undefined : address,
  });
  return (
    <Dialog
      open
      wide
      title="Register a host"
      onClose={onClose}
      testId="register-host-dialog"
      footer={
        <Button variant="primary" onClick={onClose} data-testid="register-host-done">
          Done
        </Button>
      }
    >
      <p>
        Host <code>{issued.host.id}</code> is waiting for its agent. On the machine (Linux with QEMU, as
        root), from a checkout of Wrenn, run:
      </p>
      <Field
        label="This machine's address (optional)"
        error={problem ?? undefined}
        hint="ip:port the control plane reaches the agent on; fills in the command below."
      >
        {(a) => (
          <input
            {...a}
            value={address}
            placeholder="10.0.0.5:5007"
            data-testid="register-host-address"
            onChange={(e) => setAddress(e.target.value)}
          />
        )}
      </Field>
      <div className="secret-box">
        <pre data-testid="register-host-command">{command}</pre>
        <CopyButton text={command} testId="copy-register-command" />
      </div>
      <p className="notice">
        The token <code data-testid="registration-token">{issued.registration_token}</code> works once and
        expires in one hour. It is passed in the environment, not on the command line, so other users of the
        machine cannot read it from the process list. It is not shown again: issue a new one from the host's
        row if needed.
      </p>
    </Dialog>
  );
}
