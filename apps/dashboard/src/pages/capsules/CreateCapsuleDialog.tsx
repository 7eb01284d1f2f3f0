import { useQuery } from "@tanstack/react-query";
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { errorMessage } from "../../api/client.ts";
import { createSandbox, listTemplates, type Sandbox, type Template } from "../../api/sandboxes.ts";
import { Button, Dialog, Field } from "../../ui/index.ts";
import {
  buildCreateRequest,
  type CreateFormErrors,
  type CreateFormValues,
  initialValues,
  limits,
} from "./create-form.ts";

/** The team's and the platform's templates, cached for every page that picks one. */
export function useTemplates() {
  return useQuery({ queryKey: ["templates"], queryFn: listTemplates, staleTime: 15_000 });
}

function defaultTemplate(list: Template[], preferred?: string): Template | undefined {
  return (
    list.find((t) => t.name === preferred) ??
    list.find((t) => t.name === "minimal") ??
    list.find((t) => t.platform) ??
    list[0]
  );
}

/**
 * "New capsule": template picker (team templates and snapshots first, then the platform's), size,
 * inactivity timeout, environment variables and metadata. Checked before sending; the server's
 * error, if any, is shown in the dialog.
 */
export function CreateCapsuleDialog({
  open,
  onClose,
  onCreated,
  template: preferred,
}: {
  open: boolean;
  onClose: () => void;
  onCreated: (s: Sandbox) => void;
  template?: string;
}) {
  const templates = useTemplates();
  const list = templates.data ?? [];
  const [values, setValues] = useState<CreateFormValues>(initialValues());
  const [errors, setErrors] = useState<CreateFormErrors>({});
  const [formError, setFormError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const selected = useMemo(() => list.find((t) => t.name === values.template), [list, values.template]);
  const baked = selected?.type === "snapshot";

  // Pick a template (and its size) once the list arrives or the dialog reopens.
  // biome-ignore lint/correctness/useExhaustiveDependencies: only on open / first data
  useEffect(() => {
    if (!open) return;
    setErrors({});
    setFormError(undefined);
    setValues(initialValues(defaultTemplate(list, preferred)));
  }, [open, templates.data]);

  const set = (k: keyof CreateFormValues) => (e: { target: { value: string } }) =>
    setValues((v) => ({ ...v, [k]: e.target.value }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { input, errors: errs } = buildCreateRequest(values, selected);
    setErrors(errs);
    if (!input) return;
    setBusy(true);
    setFormError(undefined);
    try {
      onCreated(await createSandbox(input));
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const own = list.filter((t) => !t.platform);
  const platform = list.filter((t) => t.platform);
  return (
    <Dialog open={open} title="New capsule" onClose={onClose} testId="create-capsule-dialog" wide>
      <form onSubmit={submit} noValidate>
        <Field
          label="Template"
          error={errors.template ?? (templates.isError ? errorMessage(templates.error) : undefined)}
          hint={
            baked ? "A snapshot starts where it was captured; its vCPUs and memory are fixed." : undefined
          }
        >
          {(a) => (
            <select
              {...a}
              data-testid="create-template"
              value={values.template}
              onChange={(e) => {
                const t = list.find((x) => x.name === e.target.value);
                setValues((v) => ({
                  ...v,
                  template: e.target.value,
                  vcpus: String(t?.vcpus ?? v.vcpus),
                  memoryMb: String(t?.memory_mb ?? v.memoryMb),
                }));
              }}
            >
              {templates.isPending ? <option value="">Loading templates…</option> : null}
              {own.length ? (
                <optgroup label="Your team">
                  {own.map((t) => (
                    <option key={t.id} value={t.name}>
                      {t.name} ({t.type})
                    </option>
                  ))}
                </optgroup>
              ) : null}
              {platform.length ? (
                <optgroup label="Platform">
                  {platform.map((t) => (
                    <option key={t.id} value={t.name}>
                      {t.name} ({t.type})
                    </option>
                  ))}
                </optgroup>
              ) : null}
            </select>
          )}
        </Field>
        <div className="row">
          <Field label="vCPUs" error={errors.vcpus}>
            {(a) => (
              <input
                {...a}
                data-testid="create-vcpus"
                inputMode="numeric"
                type="number"
                min={limits.vcpus.min}
                max={limits.vcpus.max}
                disabled={baked}
                value={values.vcpus}
                onChange={set("vcpus")}
              />
            )}
          </Field>
          <Field label="Memory (MiB)" error={errors.memoryMb}>
            {(a) => (
              <input
                {...a}
                data-testid="create-memory"
                type="number"
                inputMode="numeric"
                step={128}
                disabled={baked}
                value={values.memoryMb}
                onChange={set("memoryMb")}
              />
            )}
          </Field>
          <Field label="Disk (MiB)" error={errors.diskSizeMb}>
            {(a) => (
              <input
                {...a}
                data-testid="create-disk"
                type="number"
                inputMode="numeric"
                step={512}
                value={values.diskSizeMb}
                onChange={set("diskSizeMb")}
              />
            )}
          </Field>
          <Field
            label="Idle timeout (s)"
            error={errors.timeoutSec}
            hint="Paused after this long idle; 0 = never."
          >
            {(a) => (
              <input
                {...a}
                data-testid="create-timeout"
                type="number"
                inputMode="numeric"
                value={values.timeoutSec}
                onChange={set("timeoutSec")}
              />
            )}
          </Field>
        </div>
        <Field label="Environment variables" error={errors.envs} hint="One KEY=value per line.">
          {(a) => (
            <textarea
              {...a}
              data-testid="create-envs"
              rows={3}
              spellCheck={false}
              placeholder="API_URL=https://example.com"
              value={values.envs}
              onChange={set("envs")}
            />
          )}
        </Field>
        <Field
          label="Metadata"
          error={errors.metadata}
          hint="One key=value per line; filterable through the API."
        >
          {(a) => (
            <textarea
              {...a}
              data-testid="create-metadata"
              rows={2}
              spellCheck={false}
              placeholder="owner=ada"
              value={values.metadata}
              onChange={set("metadata")}
            />
          )}
        </Field>
        {formError ? (
          <p className="form-error" role="alert" data-testid="create-error">
            {formError}
          </p>
        ) : null}
        <div className="dialog-footer-inline">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={busy} data-testid="create-submit">
            Create capsule
          </Button>
        </div>
      </form>
    </Dialog>
  );
}
