import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import {
  type Channel,
  deleteChannel,
  getChannelCatalog,
  listChannels,
  testChannel,
  updateChannel,
} from "../../api/channels.ts";
import { errorMessage } from "../../api/client.ts";
import { useMe } from "../../layout/AppLayout.tsx";
import {
  Badge,
  Button,
  type Column,
  ConfirmDialog,
  formatDate,
  formatRelative,
  PageHeader,
  QueryTable,
  useToast,
} from "../../ui/index.ts";
import { roleAtLeast } from "../team/validate.ts";
import { CHANNELS, CreateChannelDialog, DeliveriesDialog, testText } from "./ChannelDialogs.tsx";
import { channelState } from "./validate.ts";
import "../pages.css";

/** `/channels`: where the team's events are sent (Slack, Discord, webhooks, …); admins and owners manage them. */
export function ChannelsPage() {
  const me = useMe();
  const canManage = roleAtLeast(me.data?.role, "admin");
  const catalog = useQuery({
    queryKey: ["channel-catalog"],
    queryFn: getChannelCatalog,
    staleTime: Number.POSITIVE_INFINITY,
  });
  const channels = useQuery({ queryKey: CHANNELS, queryFn: listChannels, refetchInterval: 15_000 });
  const queryClient = useQueryClient();
  const toast = useToast();
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Channel>();
  const [viewing, setViewing] = useState<Channel>();
  const [busy, setBusy] = useState<string>();

  const act = async (c: Channel, what: string, run: () => Promise<string>) => {
    setBusy(`${what}-${c.id}`);
    try {
      const msg = await run();
      await queryClient.invalidateQueries({ queryKey: CHANNELS });
      toast(msg, msg.startsWith("Test failed") ? "error" : "success");
    } catch (err) {
      toast(errorMessage(err), "error");
    } finally {
      setBusy(undefined);
    }
  };
  const label = (id: string) => catalog.data?.providers.find((p) => p.id === id)?.label ?? id;

  const columns: Column<Channel>[] = [
    { header: "Name", cell: (c) => <strong>{c.name}</strong> },
    { header: "Provider", cell: (c) => label(c.provider) },
    {
      header: "Events",
      cell: (c) => (
        <span title={c.events.join(", ")}>
          {catalog.data && c.events.length === catalog.data.events.length ? "all" : c.events.length}
        </span>
      ),
      secondary: true,
    },
    {
      header: "State",
      cell: (c) => {
        const s = channelState(c);
        return (
          <Badge tone={s.tone} title={c.disabled_reason || undefined}>
            {s.label}
          </Badge>
        );
      },
    },
    {
      header: "Last delivery",
      cell: (c) =>
        c.last_delivery ? (
          <span title={c.last_delivery.error || formatDate(c.last_delivery.at)}>
            {c.last_delivery.status === "failed" ? "failed " : ""}
            {formatRelative(c.last_delivery.at)}
          </span>
        ) : (
          <span className="muted">never</span>
        ),
      secondary: true,
    },
    {
      header: "Actions",
      align: "right",
      cell: (c) => (
        <span className="row" style={{ justifyContent: "flex-end" }}>
          <Button size="sm" onClick={() => setViewing(c)}>
            Deliveries
          </Button>
          {canManage ? (
            <>
              <Button
                size="sm"
                busy={busy === `test-${c.id}`}
                onClick={() => void act(c, "test", async () => testText(await testChannel(c.id)))}
              >
                Test
              </Button>
              <Button
                size="sm"
                busy={busy === `toggle-${c.id}`}
                onClick={() =>
                  void act(c, "toggle", async () => {
                    const u = await updateChannel(c.id, { enabled: !c.enabled });
                    return `${u.name} ${u.enabled ? "enabled" : "disabled"}`;
                  })
                }
              >
                {c.enabled ? "Disable" : "Enable"}
              </Button>
              <Button
                size="sm"
                variant="danger"
                aria-label={`Delete channel ${c.name}`}
                onClick={() => setDeleting(c)}
              >
                Delete
              </Button>
            </>
          ) : null}
        </span>
      ),
    },
  ];

  return (
    <section data-testid="page-channels">
      <PageHeader title="Channels">
        {canManage ? (
          <Button
            variant="primary"
            disabled={!catalog.data}
            data-testid="create-channel"
            onClick={() => setCreating(true)}
          >
            New channel
          </Button>
        ) : null}
      </PageHeader>
      <p className="muted">
        Channels send this team's events (capsules started, paused, failed; templates; builds) to chat or a
        webhook.
        {canManage ? "" : " Only admins and owners change them."}
      </p>
      <QueryTable
        query={channels}
        loadingLabel="Loading channels"
        caption="Channels"
        testId="channels-table"
        columns={columns}
        rowKey={(c) => c.id}
        rowTestId={(c) => `channel-row-${c.name}`}
        empty="No channels yet."
      />
      {creating && catalog.data ? (
        <CreateChannelDialog catalog={catalog.data} onClose={() => setCreating(false)} />
      ) : null}
      {viewing ? <DeliveriesDialog channel={viewing} onClose={() => setViewing(undefined)} /> : null}
      {deleting ? (
        <ConfirmDialog
          open
          title="Delete channel"
          actionLabel="Delete channel"
          body={
            <p>
              Delete <strong>{deleting.name}</strong>? Events stop going to {label(deleting.provider)}.
            </p>
          }
          onClose={() => setDeleting(undefined)}
          onConfirm={async () => {
            await deleteChannel(deleting.id);
            await queryClient.invalidateQueries({ queryKey: CHANNELS });
            toast(`Deleted ${deleting.name}`, "success");
          }}
        />
      ) : null}
    </section>
  );
}
