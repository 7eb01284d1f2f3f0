import { PageHeader } from "../ui/index.ts";

/** A page that is not built yet (the pages helper replaces each one). */
export function Placeholder({ title, testId }: { title: string; testId: string }) {
  return (
    <section data-testid={testId}>
      <PageHeader title={title} />
      <p className="muted">This page is coming soon.</p>
    </section>
  );
}
