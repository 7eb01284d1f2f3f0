import { errors } from "@wrenn/common";

// The most used passwords of at least 8 characters (the shorter ones fail the length rule anyway),
// from public breach-frequency rankings; lower-case, compared case-insensitively.
const COMMON = new Set([
  "password",
  "password1",
  "password123",
  "12345678",
  "123456789",
  "1234567890",
  "11111111",
  "00000000",
  "88888888",
  "87654321",
  "qwertyuiop",
  "qwerty123",
  "qwerty12",
  "1q2w3e4r",
  "1q2w3e4r5t",
  "1qaz2wsx",
  "zaq12wsx",
  "iloveyou",
  "sunshine",
  "princess",
  "football",
  "baseball",
  "welcome1",
  "welcome123",
  "abc12345",
  "abcd1234",
  "abcdefgh",
  "letmein1",
  "trustno1",
  "superman",
  "starwars",
  "whatever",
  "computer",
  "michelle",
  "jennifer",
  "1234qwer",
  "q1w2e3r4",
  "asdfghjk",
  "asdfasdf",
  "passw0rd",
  "p@ssw0rd",
  "p@ssword",
  "changeme",
  "admin123",
  "administrator",
  "master123",
  "internet",
  "qazwsxedc",
  "123123123",
  "987654321",
  "11223344",
  "12341234",
  "aaaaaaaa",
  "dragon123",
  "monkey123",
  "shadow123",
  "football1",
  "iloveyou1",
  "princess1",
  "charlie1",
  "jordan23",
  "liverpool",
  "chocolate",
  "password!",
  "password12",
  "qwertyui",
  "1234abcd",
  "secret123",
  "wrenn123",
  "letmein123",
]);

/**
 * The password rules of signup and password change: at least 8 characters (the schema), not only
 * whitespace, no control characters, and not one of the most common passwords.
 */
export function checkPasswordPolicy(password: string, field = "password"): void {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(password))
    throw errors.invalidArgument(`${field}: must not contain control characters`);
  if (password.trim() === "") throw errors.invalidArgument(`${field}: must not be only whitespace`);
  if (COMMON.has(password.trim().toLowerCase()))
    throw errors.invalidArgument(`${field}: this password is among the most common ones; choose another`);
}
