/** An API call that failed: `status` is the HTTP status, or null when no response arrived. */
export class ApiError extends Error {
  readonly status: number | null;
  readonly url: string;
  constructor(message: string, status: number | null, url: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.url = url;
  }
}

export interface FetchJsonOptions {
  /** GET unless told; a `body` is sent as JSON. */
  method?: "GET" | "POST" | "DELETE";
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
  cache?: RequestCache;
  /** Extra request headers, e.g. `Authorization` for the API. */
  headers?: Record<string, string>;
  fetchImpl?: typeof fetch;
}

export const DEFAULT_TIMEOUT_MS = 4_000;

/**
 * Request a URL as JSON (GET by default). Always sends `Accept: application/json` (the local server answers browser
 * navigations on the same paths with the SPA's HTML). A request that takes longer than
 * `timeoutMs` is aborted, so a server that stops answering counts as a failure instead of
 * leaving the poll hanging. Cancellation through `signal` is rethrown untouched. An empty
 * answer (e.g. 204 to a DELETE) is null.
 */
export async function fetchJson(url: string, options: FetchJsonOptions = {}): Promise<unknown> {
  const { method = "GET", body: payload, signal, timeoutMs = DEFAULT_TIMEOUT_MS, cache, headers, fetchImpl = fetch } = options;
  const controller = new AbortController();
  const forwardAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", forwardAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  try {
    let response: Response;
    let text: string;
    try {
      response = await fetchImpl(url, {
        method,
        headers: { ...headers, Accept: "application/json", ...(payload !== undefined ? { "Content-Type": "application/json" } : {}) },
        ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
        signal: controller.signal,
        ...(cache ? { cache } : {}),
      });
      text = await response.text();
    } catch (err) {
      if (signal?.aborted) throw err;
      if (timedOut) throw new ApiError(`no answer within ${timeoutMs / 1000} s`, null, url);
      throw new ApiError(`network error (${err instanceof Error ? err.message : String(err)})`, null, url);
    }
    let body: unknown = null;
    let parsed = true;
    try {
      body = text === "" ? null : JSON.parse(text);
    } catch {
      parsed = false;
    }
    if (!response.ok) {
      const message =
        parsed && typeof body === "object" && body !== null && "message" in body && typeof body.message === "string"
          ? body.message
          : `HTTP ${response.status}`;
      throw new ApiError(message, response.status, url);
    }
    if (!parsed) throw new ApiError(`HTTP ${response.status} but the body is not JSON`, response.status, url);
    return body;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", forwardAbort);
  }
}
