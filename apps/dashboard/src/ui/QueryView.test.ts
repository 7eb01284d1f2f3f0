import { QueryClient, QueryObserver, type UseQueryResult } from "@tanstack/react-query";
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { QueryView } from "./QueryView.tsx";

/**
 * Real query results from TanStack's own observer (no hand-made state objects): `answers` are
 * what the query function returns (or throws) on each successive fetch.
 */
async function resultAfter(answers: (string[] | Error)[]): Promise<UseQueryResult<string[]>> {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  let call = 0;
  const observer = new QueryObserver<string[]>(client, {
    queryKey: ["rows"],
    queryFn: async () => {
      const answer = answers[call++];
      if (answer === undefined || answer instanceof Error) throw answer ?? new Error("no answer");
      return answer;
    },
  });
  for (let i = 0; i < answers.length; i++) await observer.refetch();
  return observer.getCurrentResult();
}

function render(query: UseQueryResult<string[]>, keepDataOnError?: boolean): string {
  // QueryView uses no hooks, so calling it as a function renders exactly what React would.
  return renderToStaticMarkup(
    QueryView({
      query,
      loadingLabel: "Loading rows",
      keepDataOnError,
      children: (rows) => createElement("ul", null, rows.join(",")),
    }),
  );
}

describe("QueryView", () => {
  it("shows the labelled spinner before the first answer", async () => {
    const html = render(await resultAfter([]));
    expect(html).toContain("Loading rows…");
    expect(html).not.toContain("<ul>");
  });

  it("draws the data once it is there", async () => {
    expect(render(await resultAfter([["a", "b"]]))).toBe("<ul>a,b</ul>");
  });

  it("shows the error with a retry when the first load fails, even when asked to keep data", async () => {
    for (const keep of [false, true]) {
      const html = render(await resultAfter([new Error("database down")]), keep);
      expect(html).toContain('data-testid="error-view"');
      expect(html).toContain("Try again");
      expect(html).not.toContain("<ul>");
    }
  });

  it("replaces the rows by the error when a refresh fails, unless the page keeps its data", async () => {
    const failedRefresh = await resultAfter([["a"], new Error("timeout")]);
    expect(failedRefresh.isError).toBe(true);
    expect(render(failedRefresh)).toContain('data-testid="error-view"');
    expect(render(failedRefresh, true)).toBe("<ul>a</ul>");
  });
});
