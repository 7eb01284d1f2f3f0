import { z } from "zod";

/** An http(s) URL (webhook endpoints). The SSRF policy is applied when sending, not here. */
export const webhookUrl = z
  .string()
  .trim()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (u.protocol === "https:" || u.protocol === "http:") && !u.username && !u.password;
    } catch {
      return false;
    }
  }, "must be an http(s) URL without credentials");

/** A required short text field. */
export const text = (max = 256) => z.string().trim().min(1).max(max);
