import { createContext, type ReactNode, useCallback, useContext, useMemo, useRef, useState } from "react";

/** Kind of a toast (colour and ARIA politeness). */
export type ToastKind = "success" | "error" | "info";

interface ToastItem {
  id: number;
  kind: ToastKind;
  text: string;
}

/** Shows a transient message: `toast("Saved")`, `toast(msg, "error")`. */
export type ToastFn = (text: string, kind?: ToastKind) => void;

const ToastContext = createContext<ToastFn>(() => {});

/** The toast shown by {@link useToast}; errors stay until dismissed, others fade after 4 s. */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [items, setItems] = useState<ToastItem[]>([]);
  const next = useRef(1);
  const dismiss = useCallback((id: number) => setItems((xs) => xs.filter((x) => x.id !== id)), []);
  const toast = useCallback<ToastFn>(
    (text, kind = "info") => {
      const id = next.current++;
      setItems((xs) => [...xs.slice(-3), { id, kind, text }]);
      if (kind !== "error") setTimeout(() => dismiss(id), 4000);
    },
    [dismiss],
  );
  const value = useMemo(() => toast, [toast]);
  return (
    <ToastContext.Provider value={value}>
      {children}
      <div className="toasts" aria-live="polite">
        {items.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === "error" ? "alert" : "status"}>
            <span>{t.text}</span>
            <button type="button" className="icon-btn" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </ToastContext.Provider>
  );
}

/** The toast function of the nearest {@link ToastProvider}. */
export function useToast(): ToastFn {
  return useContext(ToastContext);
}
