import type { ReactNode } from "react";

/** One column of a {@link Table}. */
export interface Column<Row> {
  /** Header text (also the label of the cell on narrow screens). */
  header: string;
  cell: (row: Row) => ReactNode;
  /** Hidden below 720 px when the column is secondary. */
  secondary?: boolean;
  align?: "left" | "right";
}

/**
 * A data table. On narrow screens each row becomes a card with labelled cells (CSS reads
 * `data-label`), so every column stays reachable at 390 px.
 */
export function Table<Row>({
  columns,
  rows,
  rowKey,
  empty,
  caption,
  testId,
  rowTestId,
}: {
  columns: Column<Row>[];
  rows: Row[];
  rowKey: (row: Row) => string;
  empty?: ReactNode;
  caption?: string;
  testId?: string;
  rowTestId?: (row: Row) => string;
}) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid={testId}>
        {caption ? <caption className="sr-only">{caption}</caption> : null}
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.header} scope="col" className={colClass(c)}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr className="table-empty">
              <td colSpan={columns.length}>{empty ?? "Nothing here yet."}</td>
            </tr>
          ) : (
            rows.map((r) => (
              <tr key={rowKey(r)} data-testid={rowTestId?.(r)}>
                {columns.map((c) => (
                  <td key={c.header} data-label={c.header} className={colClass(c)}>
                    {c.cell(r)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

function colClass<Row>(c: Column<Row>): string | undefined {
  const cls = [c.secondary ? "col-secondary" : "", c.align === "right" ? "col-right" : ""].filter(Boolean);
  return cls.length ? cls.join(" ") : undefined;
}
