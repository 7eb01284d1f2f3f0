/** Placeholder entry; filled in by the package's issue. */
export {};
