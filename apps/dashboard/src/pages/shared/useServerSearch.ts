import { keepPreviousData, type UseQueryResult, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useDebounced } from "./useDebounced.ts";

/** How long typing must pause before the filter goes to the server. */
const SEARCH_DEBOUNCE_MS = 250;

/**
 * A list the server filters: the typed text, debounced, becomes part of the query key and the
 * request. The server filters because its lists are capped, so a search reaches rows past the first
 * page; the previous rows stay on screen while the next answer is on its way.
 */
export function useServerSearch<Row>(
  queryKey: readonly unknown[],
  list: (query: string | undefined, signal: AbortSignal) => Promise<Row[]>,
): { text: string; setText: (text: string) => void; rows: UseQueryResult<Row[]> } {
  const [text, setText] = useState("");
  const q = useDebounced(text.trim(), SEARCH_DEBOUNCE_MS);
  const rows = useQuery({
    queryKey: [...queryKey, q],
    queryFn: ({ signal }) => list(q || undefined, signal),
    placeholderData: keepPreviousData,
  });
  return { text, setText, rows };
}
