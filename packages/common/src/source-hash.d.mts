/** Name of the file, inside the build output folder, that records the sources a build was made from. */
export declare const SOURCE_HASH_FILE: ".source-hash";

/** Where the repository lockfile is, when not `<appDir>/../../package-lock.json`. */
export interface SourceHashOptions {
  lockfile?: string;
}

/**
 * SHA-256 (hex) over the files of `appDir` that shape its build plus the repository's
 * `package-lock.json`. Inputs: `src/`, `public/`, `index.html`, `package.json`, `vite.config.*` (and
 * PostCSS/Tailwind configs), `tsconfig*.json`; inside them `node_modules/`, dot entries, `*.test.*`
 * and `*.md` are skipped, so transient files a build drops beside the sources never count.
 */
export declare function sourceHash(appDir: string, options?: SourceHashOptions): string;

/** Records `sourceHash(appDir)` in `<outDir>/.source-hash` (outDir default `<appDir>/dist`); returns it. */
export declare function writeSourceHash(appDir: string, outDir?: string, options?: SourceHashOptions): string;

/** The hash recorded in `<outDir>/.source-hash`, or undefined when there is none. */
export declare function readSourceHash(outDir: string): string | undefined;
