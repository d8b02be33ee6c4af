import { fetchJson } from "./api/http";

export interface AppConfig {
  /** API base URL without a trailing slash, e.g. `http://127.0.0.1:8000` or `https://x/prod`. */
  apiUrl: string;
}

/** Validate `/config.json`; a relative apiUrl is resolved against the page's origin. */
export function parseConfig(raw: unknown, origin: string): AppConfig {
  const apiUrl =
    typeof raw === "object" && raw !== null && "apiUrl" in raw && typeof raw.apiUrl === "string" ? raw.apiUrl.trim() : "";
  if (apiUrl === "") throw new Error('config.json has no "apiUrl"');
  let resolved: URL;
  try {
    resolved = new URL(apiUrl, origin);
  } catch {
    throw new Error(`config.json apiUrl is not a URL: ${apiUrl}`);
  }
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") {
    throw new Error(`config.json apiUrl must be http(s): ${apiUrl}`);
  }
  const href = `${resolved.origin}${resolved.pathname}`.replace(/\/+$/, "");
  return { apiUrl: href };
}

export async function loadConfig(): Promise<AppConfig> {
  const raw = await fetchJson("/config.json", { cache: "no-store", timeoutMs: 10_000 });
  return parseConfig(raw, window.location.origin);
}
