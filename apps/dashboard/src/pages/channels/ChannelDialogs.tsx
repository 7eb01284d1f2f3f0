import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import {
  type Channel,
  type ChannelCatalog,
  createChannel,
  listDeliveries,
  type TestResult,
  testChannelConfig,
} from "../../api/channels.ts";
import { errorMessage } from "../../api/client.ts";
import {
  Badge,
  Button,
  Dialog,
  ErrorView,
  Field,
  formatDate,
  Loading,
  Table,
  useToast,
} from "../../ui/index.ts";
import { type ChannelDraft, configFor, type DraftProblems, draftProblems } from "./validate.ts";

/** The query key of the channel list (the dialogs refresh it). */
export const CHANNELS = ["channels"] as const;

/** A test result in words. */
export function testText(r: TestResult): string {
  return r.ok
    ? `Test message delivered${r.status ? ` (HTTP ${r.status})` : ""}.`
    : `Test failed: ${r.error ?? "unknown error"}`;
}

/** New channel: provider-specific fields from the catalogue, events to send, a test before saving. */
export function CreateChannelDialog({ catalog, onClose }: { catalog: ChannelCatalog; onClose: () => void }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [draft, setDraft] = useState<ChannelDraft>({
    name: "",
    provider: catalog.providers[0]?.id ?? "",
    config: {},
    events: catalog.events.map((e) => e.type),
  });
  const [problems, setProblems] = useState<DraftProblems>({});
  const [busy, setBusy] = useState<"test" | "save">();
  const [result, setResult] = useState<{ text: string; ok: boolean }>();
  const provider = catalog.providers.find((p) => p.id === draft.provider);

  const check = (needEvents: boolean) => {
    const p = draftProblems(needEvents ? draft : { ...draft, events: ["-"] }, catalog.providers);
    setProblems(p);
    return Object.keys(p).length === 0 && provider ? provider : undefined;
  };
  const runTest = async () => {
    const p = check(false);
    if (!p) return;
    setBusy("test");
    setResult(undefined);
    try {
      const r = await testChannelConfig({
        name: draft.name.trim(),
        provider: p.id,
        config: configFor(draft, p),
      });
      setResult({ text: testText(r), ok: r.ok });
    } catch (err) {
      setResult({ text: errorMessage(err), ok: false });
    } finally {
      setBusy(undefined);
    }
  };
  const save = async (e: FormEvent) => {
    e.preventDefault();
    const p = check(true);
    if (!p) return;
    setBusy("save");
    setResult(undefined);
    try {
      const c = await createChannel({
        name: draft.name.trim(),
        provider: p.id,
        config: configFor(draft, p),
        events: draft.events,
      });
      await queryClient.invalidateQueries({ queryKey: CHANNELS });
      toast(`Channel ${c.name} created`, "success");
      onClose();
    } catch (err) {
      setResult({ text: errorMessage(err), ok: false });
    } finally {
      setBusy(undefined);
    }
  };
  const toggleEvent = (type: string, on: boolean) =>
    setDraft((d) => ({ ...d, events: on ? [...d.events, type] : d.events.filter((t) => t !== type) }));

  return (
    <Dialog
      open
      wide
      title="New channel"
      onClose={onClose}
      testId="create-channel-dialog"
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            busy={busy === "test"}
            disabled={busy !== undefined}
            onClick={() => void runTest()}
            data-testid="channel-test-draft"
          >
            Send test
          </Button>
          <Button
            variant="primary"
            type="submit"
            form="create-channel-form"
            busy={busy === "save"}
            disabled={busy !== undefined}
            data-testid="channel-submit"
          >
            Create channel
          </Button>
        </>
      }
    >
      <form id="create-channel-form" onSubmit={save} noValidate>
        <div className="row" style={{ alignItems: "flex-start" }}>
          <Field label="Name" error={problems.name}>
            {(a) => (
              <input
                {...a}
                value={draft.name}
                placeholder="ops alerts"
                data-testid="channel-name"
                onChange={(e) => setDraft((d) => ({ ...d, name: e.target.value }))}
              />
            )}
          </Field>
          <Field label="Send to" error={problems.provider}>
            {(a) => (
              <select
                {...a}
                value={draft.provider}
                data-testid="channel-provider"
                onChange={(e) => setDraft((d) => ({ ...d, provider: e.target.value, config: {} }))}
              >
                {catalog.providers.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.label}
                  </option>
                ))}
              </select>
            )}
          </Field>
        </div>
        {provider?.fields.map((f) => (
          <Field
            key={`${provider.id}-${f.name}`}
            label={`${f.label}${f.required ? "" : " (optional)"}`}
            hint={f.description}
            error={problems[f.name]}
          >
            {(a) => (
              <input
                {...a}
                type={f.secret ? "password" : "text"}
                autoComplete="off"
                value={draft.config[f.name] ?? ""}
                data-testid={`channel-field-${f.name}`}
                onChange={(e) =>
                  setDraft((d) => ({ ...d, config: { ...d.config, [f.name]: e.target.value } }))
                }
              />
            )}
          </Field>
        ))}
        <fieldset className="field">
          <legend>Events</legend>
          <div className="check-grid">
            {catalog.events.map((ev) => (
              <label key={ev.type} title={ev.description}>
                <input
                  type="checkbox"
                  checked={draft.events.includes(ev.type)}
                  onChange={(e) => toggleEvent(ev.type, e.target.checked)}
                />
                <span>{ev.title}</span>
              </label>
            ))}
          </div>
          {problems.events ? (
            <div className="field-error" role="alert">
              {problems.events}
            </div>
          ) : null}
        </fieldset>
        {result ? (
          <p
            className={result.ok ? "notice" : "form-error"}
            role={result.ok ? "status" : "alert"}
            data-testid="channel-result"
          >
            {result.text}
          </p>
        ) : null}
      </form>
    </Dialog>
  );
}

/** A channel's latest deliveries. */
export function DeliveriesDialog({ channel, onClose }: { channel: Channel; onClose: () => void }) {
  const deliveries = useQuery({
    queryKey: ["channel-deliveries", channel.id],
    queryFn: () => listDeliveries(channel.id),
  });
  return (
    <Dialog open wide title={`Deliveries of ${channel.name}`} onClose={onClose} testId="channel-deliveries">
      {deliveries.isPending ? (
        <Loading />
      ) : deliveries.isError ? (
        <ErrorView error={deliveries.error} />
      ) : (
        <Table
          caption="Deliveries"
          columns={[
            { header: "Event", cell: (d) => <code className="mono">{d.event_type}</code> },
            {
              header: "Status",
              cell: (d) => (
                <Badge tone={d.status === "delivered" ? "green" : d.status === "failed" ? "red" : "blue"}>
                  {d.status}
                </Badge>
              ),
            },
            { header: "Attempts", cell: (d) => d.attempts, align: "right" },
            { header: "When", cell: (d) => formatDate(d.updated_at) },
            {
              header: "Error",
              cell: (d) => <span className="small">{d.last_error || "—"}</span>,
              secondary: true,
            },
          ]}
          rows={deliveries.data}
          rowKey={(d) => d.event_id}
          empty="Nothing sent yet."
        />
      )}
    </Dialog>
  );
}
