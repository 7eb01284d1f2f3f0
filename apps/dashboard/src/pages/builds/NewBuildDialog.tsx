import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useNavigate } from "@tanstack/react-router";
import { type FormEvent, useState } from "react";
import { type BuildScope, submitBuild } from "../../api/builds.ts";
import { errorMessage } from "../../api/client.ts";
import { listTemplates } from "../../api/templates.ts";
import { Dialog, Field, FormFooter } from "../../ui/index.ts";
import { type BuildDraft, buildDraftProblems } from "./logic.ts";

const RECIPE_EXAMPLE = `RUN apt-get install -y python3-pip
RUN pip install flask
COPY app.py /home/user/app.py
START python3 /home/user/app.py
READY curl -sf localhost:5000`;

/** Reads picked files as build-context entries (name → path, content base64). */
async function contextFiles(list: FileList | null): Promise<{ path: string; content: string }[]> {
  const out: { path: string; content: string }[] = [];
  for (const f of Array.from(list ?? [])) {
    const bytes = new Uint8Array(await f.arrayBuffer());
    let bin = "";
    for (let i = 0; i < bytes.length; i += 0x8000)
      bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    out.push({ path: f.name, content: btoa(bin) });
  }
  return out;
}

/** "New build": a recipe or a Dockerfile, its base template and context files; opens the build on success. */
export function NewBuildDialog({ scope, onClose }: { scope: BuildScope; onClose: () => void }) {
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const templates = useQuery({ queryKey: ["templates"], queryFn: listTemplates });
  const [draft, setDraft] = useState<BuildDraft>({ name: "", kind: "recipe", source: "", from: "minimal" });
  const [files, setFiles] = useState<FileList | null>(null);
  const [skipCache, setSkipCache] = useState(false);
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const p = buildDraftProblems(draft);
    setProblems(p);
    if (Object.keys(p).length) return;
    setBusy(true);
    setError(undefined);
    try {
      const ctx = await contextFiles(files);
      const b = await submitBuild(scope, {
        name: draft.name.trim(),
        ...(draft.kind === "recipe"
          ? { recipe: draft.source, from: draft.from }
          : { dockerfile: draft.source }),
        ...(skipCache ? { skip_cache: true } : {}),
        ...(ctx.length ? { files: ctx } : {}),
      });
      await queryClient.invalidateQueries({ queryKey: ["builds"] });
      onClose();
      if (scope === "team") await navigate({ to: "/builds/$id", params: { id: b.id } });
      else await navigate({ to: "/admin/builds/$id", params: { id: b.id } });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open
      wide
      title={scope === "team" ? "New template build" : "New platform template build"}
      onClose={onClose}
      testId="new-build-dialog"
      footer={
        <FormFooter formId="new-build-form" busy={busy} onCancel={onClose} submitTestId="build-submit">
          Start build
        </FormFooter>
      }
    >
      <form id="new-build-form" onSubmit={submit} noValidate>
        <div className="row" style={{ alignItems: "flex-start" }}>
          <Field
            label="Template name"
            error={problems.name}
            hint="The build makes (or replaces) this template."
          >
            {(a) => (
              <input
                {...a}
                value={draft.name}
                placeholder="my-env"
                data-testid="build-name"
                onChange={(e) => setDraft((d) => ({ ...d, name: e.target.value }))}
              />
            )}
          </Field>
          {draft.kind === "recipe" ? (
            <Field label="Start from">
              {(a) => (
                <select
                  {...a}
                  value={draft.from}
                  onChange={(e) => setDraft((d) => ({ ...d, from: e.target.value }))}
                >
                  {(templates.data ?? [{ id: "minimal", name: "minimal" }]).map((t) => (
                    <option key={t.id} value={t.name}>
                      {t.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
          ) : null}
        </div>
        <fieldset className="field">
          <legend>Source</legend>
          <div className="row">
            <label className="choice">
              <input
                type="radio"
                name="build-kind"
                checked={draft.kind === "recipe"}
                onChange={() => setDraft((d) => ({ ...d, kind: "recipe" }))}
              />
              Wrenn recipe
            </label>
            <label className="choice">
              <input
                type="radio"
                name="build-kind"
                data-testid="build-kind-dockerfile"
                checked={draft.kind === "dockerfile"}
                onChange={() => setDraft((d) => ({ ...d, kind: "dockerfile" }))}
              />
              Dockerfile (FROM a Wrenn template)
            </label>
          </div>
          <Field
            label={draft.kind === "recipe" ? "Recipe" : "Dockerfile"}
            error={problems.source}
            hint={
              draft.kind === "recipe"
                ? "RUN, ENV, COPY, WORKDIR, USER; START and READY make a snapshot with the app running."
                : "FROM, RUN, ENV, COPY/ADD, WORKDIR, USER, CMD/ENTRYPOINT, HEALTHCHECK CMD."
            }
          >
            {(a) => (
              <textarea
                {...a}
                rows={8}
                className="mono"
                spellCheck={false}
                placeholder={draft.kind === "recipe" ? RECIPE_EXAMPLE : "FROM minimal\nRUN pip install flask"}
                value={draft.source}
                data-testid="build-source"
                onChange={(e) => setDraft((d) => ({ ...d, source: e.target.value }))}
              />
            )}
          </Field>
        </fieldset>
        <Field label="Context files (optional)" hint="Files COPY reads, by file name.">
          {(a) => <input {...a} type="file" multiple onChange={(e) => setFiles(e.target.files)} />}
        </Field>
        <label className="row">
          <input type="checkbox" checked={skipCache} onChange={(e) => setSkipCache(e.target.checked)} />
          Run every step again (ignore cached layers)
        </label>
        {error ? (
          <p className="form-error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
    </Dialog>
  );
}
