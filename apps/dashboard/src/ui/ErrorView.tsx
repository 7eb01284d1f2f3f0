import { Component, type ErrorInfo, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api/client.ts";
import { Button } from "./Button.tsx";

/** A readable error panel for a failed load: the server's message, its code, and a retry. */
export function ErrorView({
  error,
  onRetry,
  title,
}: {
  error: unknown;
  onRetry?: () => void;
  title?: string;
}) {
  const code = error instanceof ApiError ? error.code : undefined;
  return (
    <div className="error-view" role="alert" data-testid="error-view">
      <h3>{title ?? (code === "not_found" ? "Not found" : "Could not load this")}</h3>
      <p>{errorMessage(error)}</p>
      {code ? <p className="muted small">Error code: {code}</p> : null}
      {onRetry ? <Button onClick={onRetry}>Try again</Button> : null}
    </div>
  );
}

/**
 * Catches render errors below it so a bug shows a message and a reload button instead of a white
 * screen; the stack goes to the console, never onto the page.
 */
export class ErrorBoundary extends Component<{ children: ReactNode }, { error: unknown }> {
  override state: { error: unknown } = { error: undefined };

  static getDerivedStateFromError(error: unknown) {
    return { error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error("dashboard render error", error, info.componentStack);
  }

  override render() {
    if (this.state.error === undefined) return this.props.children;
    return (
      <div className="error-page">
        <ErrorView
          title="This page hit an error"
          error={this.state.error}
          onRetry={() => this.setState({ error: undefined })}
        />
        <Button variant="ghost" onClick={() => window.location.reload()}>
          Reload the page
        </Button>
      </div>
    );
  }
}
