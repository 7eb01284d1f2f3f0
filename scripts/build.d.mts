/** Types of build.mjs (plain JavaScript, run by bare `node` at every `wrenn` launch). */

/** An esbuild bundle of a Node entry point. */
export interface BundleTarget {
  kind: "bundle";
  /** Output folder, relative to the tree's root. */
  outdir: string;
  /** Output name (without `.mjs`) → entry source file. */
  entries: Record<string, string>;
  splitting?: boolean;
  /** npm packages bundled in; the others stay external. */
  inline?: string[];
  enabled?: () => boolean;
}

/** A build another tool does (Vite) that records its own key. */
export interface CommandTarget {
  kind: "command";
  outdir: string;
  command: string[];
  fresh: () => Promise<boolean>;
  enabled?: () => boolean;
}

/** One build target. */
export type Target = BundleTarget | CommandTarget;

/** Build operations over a tree's targets. */
export interface Builder {
  isFresh(name: string): Promise<boolean>;
  ensureBuilt(names: string[], options?: { force?: boolean; quiet?: boolean }): Promise<void>;
}

/** This repository's targets. */
export const TARGETS: Record<string, Target>;
/** What `scripts/wrenn` needs fresh for any command. */
export const CLI_TARGETS: string[];
/** The build operations over `targets` in the tree at `root`. */
export function createBuilder(root: string, targets: Record<string, Target>): Builder;
export const isFresh: Builder["isFresh"];
export const ensureBuilt: Builder["ensureBuilt"];
/** Modules whose `import.meta.url` stays the bundle's own (others get their source file's). */
export const RUNTIME_URL_MODULES: string[];
