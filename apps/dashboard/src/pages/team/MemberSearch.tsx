import { useQuery } from "@tanstack/react-query";
import { useId, useState } from "react";
import { searchUsers } from "../../api/team.ts";
import { useDebounced } from "../shared/useDebounced.ts";
import { moveHighlight, shouldSearch } from "./validate.ts";

/**
 * The email field of "add member", a WAI-ARIA combobox: from three characters it suggests users
 * whose email starts with the text among people the caller shares a team with, plus an exact
 * match (the API's scoping); arrows move, Enter picks, Escape closes. Suggestions only help: any
 * typed address can still be added.
 */
export function MemberSearch({
  id,
  value,
  onChange,
  invalid,
  describedBy,
  exclude,
}: {
  id: string;
  value: string;
  onChange: (email: string) => void;
  invalid?: boolean;
  describedBy?: string;
  /** Emails already in the team: not suggested. */
  exclude: Set<string>;
}) {
  const listId = useId();
  const prefix = useDebounced(value.trim(), 250);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(-1);
  const hits = useQuery({
    queryKey: ["user-search", prefix],
    queryFn: ({ signal }) => searchUsers(prefix, signal),
    enabled: shouldSearch(prefix),
    staleTime: 30_000,
  });
  // An exact match stays listed: for someone outside the caller's teams it is the only hit the
  // API gives, and seeing their name confirms the address belongs to an account.
  const options = (hits.data ?? []).filter((u) => !exclude.has(u.email.toLowerCase()));
  const expanded = open && options.length > 0;

  const pick = (email: string) => {
    onChange(email);
    setOpen(false);
    setActive(-1);
  };

  return (
    <div className="autocomplete">
      <input
        id={id}
        type="email"
        role="combobox"
        autoComplete="off"
        placeholder="name@example.com"
        data-testid="member-email"
        aria-autocomplete="list"
        aria-expanded={expanded}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
          setOpen(true);
          setActive(-1);
        }}
        onBlur={() => setOpen(false)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown" || e.key === "ArrowUp") {
            e.preventDefault();
            setOpen(true);
            setActive((a) => moveHighlight(a, options.length, e.key as "ArrowDown" | "ArrowUp"));
          } else if (e.key === "Enter" && expanded && active >= 0) {
            e.preventDefault();
            const hit = options[active];
            if (hit) pick(hit.email);
          } else if (e.key === "Escape" && expanded) {
            e.preventDefault();
            setOpen(false);
          }
        }}
      />
      <div
        id={listId}
        role="listbox"
        aria-label="Matching users"
        hidden={!expanded}
        data-testid="member-suggestions"
      >
        {options.map((u, i) => (
          <div
            key={u.id}
            id={`${listId}-${i}`}
            role="option"
            tabIndex={-1}
            aria-selected={i === active}
            // mousedown, not click: it fires before the input's blur closes the list.
            onMouseDown={(e) => {
              e.preventDefault();
              pick(u.email);
            }}
          >
            <strong>{u.email}</strong> <span className="muted small">{u.name}</span>
          </div>
        ))}
      </div>
    </div>
  );
}
