/** A small rotating indicator; `label` is read by screen readers ("" when the context says it). */
export function Spinner({ size = 18, label = "Loading" }: { size?: number; label?: string }) {
  return (
    <>
      <span className="spinner" aria-hidden="true" style={{ width: size, height: size }} />
      {label ? <span className="sr-only">{label}</span> : null}
    </>
  );
}

/** A centred spinner for a page or panel's first load. */
export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <Spinner label="" /> <span>{label}…</span>
    </div>
  );
}
