import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ErrorView } from "./ErrorView.tsx";
import { Loading } from "./Spinner.tsx";

/**
 * The three states every list page shows for one query: a labelled spinner while the first answer
 * is on its way, the error with a retry, then whatever `children` draws from the data.
 */
export function QueryView<T>({
  query,
  loadingLabel,
  keepDataOnError = false,
  children,
}: {
  query: UseQueryResult<T>;
  /** What is loading, as the spinner says it ("Loading teams"). */
  loadingLabel: string;
  /**
   * A polled list sets this: when a refresh fails, the rows it already has stay on screen (the
   * next poll tries again) instead of being replaced by the error.
   */
  keepDataOnError?: boolean;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading label={loadingLabel} />;
  if (query.isLoadingError || (query.isError && !keepDataOnError)) {
    return <ErrorView error={query.error} onRetry={() => void query.refetch()} />;
  }
  return <>{children(query.data)}</>;
}
