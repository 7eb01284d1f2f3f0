import type { FileEntry } from "../../api/sandboxes.ts";

// Inline SVG, not emoji: a machine without an emoji font (Debian's Chromium on a server) would
// draw an empty box, and no icon font is fetched from a CDN.
const paths: Record<FileEntry["type"], string> = {
  dir: "M1.5 3.5h4l1.5 1.5h7.5v8.5h-13z",
  file: "M3.5 1.5h6l3 3v10h-9z M9.5 1.5v3h3",
  symlink: "M3.5 1.5h6l3 3v10h-9z M5.5 11.5l4-4 M6.5 7.5h3v3",
  unknown: "M3.5 1.5h6l3 3v10h-9z",
};

/** The small outline icon in front of a name in the file browser (decorative: hidden from screen readers). */
export function EntryIcon({ type }: { type: FileEntry["type"] }) {
  return (
    <svg
      className="entry-icon"
      viewBox="0 0 16 16"
      width="16"
      height="16"
      aria-hidden="true"
      focusable="false"
    >
      <path d={paths[type]} fill="none" stroke="currentColor" strokeWidth="1.2" strokeLinejoin="round" />
    </svg>
  );
}
