/** Where a test deployment's REST API is and the team API key to call it with. */
export interface ApiTarget {
  url: string;
  apiKey: string;
}

/** A request to `target`'s REST API with its API key and, when given, a JSON body: the raw response. */
export function apiFetch(target: ApiTarget, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${target.url}${path}`, {
    method,
    headers: { "x-api-key": target.apiKey, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** {@link apiFetch}, answered as the status, the parsed JSON body (undefined when empty or not JSON) and the raw text. */
export async function apiCall(
  target: ApiTarget,
  method: string,
  path: string,
  body?: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: tests read whichever fields their route answers
): Promise<{ status: number; body: any; text: string }> {
  const res = await apiFetch(target, method, path, body);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined; // not JSON (an HTML or text answer): `text` has it
  }
  return { status: res.status, body: parsed, text };
}
