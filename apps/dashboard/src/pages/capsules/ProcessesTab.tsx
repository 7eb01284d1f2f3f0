import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { errorMessage } from "../../api/client.ts";
import { killProcess, listProcesses, type Process } from "../../api/sandboxes.ts";
import { Badge, Button, type Column, ErrorView, Loading, Table, useToast } from "../../ui/index.ts";

/** Processes envd tracks (background commands and terminals), refreshed every few seconds; kill. */
export function ProcessesTab({ sandboxId }: { sandboxId: string }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const [killing, setKilling] = useState<number>();
  const procs = useQuery({
    queryKey: ["sandboxes", "processes", sandboxId],
    queryFn: () => listProcesses(sandboxId),
    refetchInterval: 4_000,
  });
  const columns: Column<Process>[] = [
    { header: "PID", cell: (p) => <span className="mono">{p.pid}</span> },
    { header: "Tag", cell: (p) => (p.tag ? <span className="mono">{p.tag}</span> : "—") },
    {
      header: "Command",
      cell: (p) => (
        <code title={[p.cmd, ...p.args].join(" ")}>{[p.cmd, ...p.args].join(" ").slice(0, 120)}</code>
      ),
    },
    {
      header: "Kind",
      secondary: true,
      cell: (p) => (p.pty ? <Badge tone="blue">terminal</Badge> : <Badge>command</Badge>),
    },
    { header: "Directory", secondary: true, cell: (p) => <span className="mono small">{p.cwd || "—"}</span> },
    {
      header: "Actions",
      align: "right",
      cell: (p) => (
        <Button
          size="sm"
          variant="danger"
          busy={killing === p.pid}
          aria-label={`Kill process ${p.pid}`}
          data-testid={`process-kill-${p.pid}`}
          onClick={async () => {
            setKilling(p.pid);
            try {
              await killProcess(sandboxId, p.pid);
              toast(`Process ${p.pid} killed`, "success");
            } catch (err) {
              toast(errorMessage(err), "error");
            } finally {
              setKilling(undefined);
              await queryClient.invalidateQueries({ queryKey: ["sandboxes", "processes", sandboxId] });
            }
          }}
        >
          Kill
        </Button>
      ),
    },
  ];
  if (procs.isPending) return <Loading label="Loading processes" />;
  if (procs.isError) return <ErrorView error={procs.error} onRetry={() => void procs.refetch()} />;
  return (
    <Table
      caption="Processes"
      testId="processes-table"
      columns={columns}
      rows={procs.data}
      rowKey={(p) => String(p.pid)}
      empty="No tracked processes. Commands started in the background and terminals appear here."
    />
  );
}
