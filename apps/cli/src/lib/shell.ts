/** Quotes one word for bash so it reaches the program unchanged (`it's` → `'it'\''s'`). */
export function shellQuote(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * The command line `wrenn sandbox exec` sends: one argument is a shell script as written
 * (`-- 'ls | wc -l'`), several are a program and its arguments, each quoted (`-- ls -la "my dir"`).
 */
export function commandLine(words: string[]): string {
  if (words.length === 1) return words[0] as string;
  return words.map(shellQuote).join(" ");
}
