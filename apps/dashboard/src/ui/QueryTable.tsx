import type { UseQueryResult } from "@tanstack/react-query";
import type { ComponentProps } from "react";
import { QueryView } from "./QueryView.tsx";
import { Table } from "./Table.tsx";

/**
 * A {@link Table} over a query's rows, with {@link QueryView}'s spinner and error states: the
 * shape of most list pages. `select` orders or filters the rows on the client (the query's cache
 * keeps them as the API sent them).
 */
export function QueryTable<Row>({
  query,
  loadingLabel,
  keepDataOnError,
  select,
  ...table
}: Omit<ComponentProps<typeof Table<Row>>, "rows"> & {
  query: UseQueryResult<Row[]>;
  loadingLabel: string;
  keepDataOnError?: boolean;
  select?: (rows: Row[]) => Row[];
}) {
  return (
    <QueryView query={query} loadingLabel={loadingLabel} keepDataOnError={keepDataOnError}>
      {(rows) => <Table {...table} rows={select ? select(rows) : rows} />}
    </QueryView>
  );
}
