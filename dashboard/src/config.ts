import { fetchJson } from "./api/http";

export type AuthFlow = "USER_SRP_AUTH" | "USER_PASSWORD_AUTH";

export interface AuthConfig {
  region: string;
  userPoolId: string;
  clientId: string;
  /** Cognito's JSON endpoint; null means `https://cognito-idp.<region>.amazonaws.com/`. */
  endpoint: string | null;
  /** SRP for a stack; plain password locally, where the emulator does not check SRP proofs. */
  flow: AuthFlow;
}

export interface AppConfig {
  /** API base URL without a trailing slash, e.g. `http://127.0.0.1:8000` or `https://x/prod`. */
  apiUrl: string;
  auth: AuthConfig;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const FLOWS: readonly AuthFlow[] = ["USER_SRP_AUTH", "USER_PASSWORD_AUTH"];
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
// The format the library itself insists on (it throws on anything else).
const USER_POOL_ID = /^[\w-]+_[0-9a-zA-Z]+$/;

/** Resolve an http(s) URL (relative ones against the page's origin) or explain why it isn't one. */
function httpUrl(value: string, origin: string, what: string): URL {
  let resolved: URL;
  try {
    resolved = new URL(value, origin);
  } catch {
    throw new Error(`config.json ${what} is not a URL: ${value}`);
  }
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") {
    throw new Error(`config.json ${what} must be http(s): ${value}`);
  }
  return resolved;
}

function requiredString(obj: Json, key: string, what: string): string {
  const value = obj[key];
  if (typeof value !== "string" || value.trim() === "") throw new Error(`config.json has no "${what}"`);
  return value.trim();
}

function parseAuth(raw: unknown, origin: string): AuthConfig {
  if (!isObject(raw)) throw new Error('config.json has no "auth" object (the dashboard needs a Cognito user pool to sign in)');
  const region = requiredString(raw, "region", "auth.region");
  if (!REGION.test(region)) throw new Error(`config.json auth.region is not an AWS region: ${region}`);
  const userPoolId = requiredString(raw, "userPoolId", "auth.userPoolId");
  if (!USER_POOL_ID.test(userPoolId)) throw new Error(`config.json auth.userPoolId is not a user pool id: ${userPoolId}`);
  if (!userPoolId.startsWith(`${region}_`)) {
    throw new Error(`config.json auth.userPoolId ${userPoolId} is not in auth.region ${region}`);
  }
  const clientId = requiredString(raw, "clientId", "auth.clientId");
  let endpoint: string | null = null;
  if (raw.endpoint !== null && raw.endpoint !== undefined) {
    if (typeof raw.endpoint !== "string" || raw.endpoint.trim() === "") {
      throw new Error("config.json auth.endpoint must be a URL or null");
    }
    endpoint = httpUrl(raw.endpoint.trim(), origin, "auth.endpoint").href;
  }
  const flow = raw.flow;
  if (!FLOWS.includes(flow as AuthFlow)) {
    throw new Error(`config.json auth.flow must be one of ${FLOWS.join(", ")}: ${JSON.stringify(flow)}`);
  }
  return { region, userPoolId, clientId, endpoint, flow: flow as AuthFlow };
}

/** Validate `/config.json`; relative URLs are resolved against the page's origin. */
export function parseConfig(raw: unknown, origin: string): AppConfig {
  const apiUrl = isObject(raw) && typeof raw.apiUrl === "string" ? raw.apiUrl.trim() : "";
  if (apiUrl === "") throw new Error('config.json has no "apiUrl"');
  const resolved = httpUrl(apiUrl, origin, "apiUrl");
  const href = `${resolved.origin}${resolved.pathname}`.replace(/\/+$/, "");
  return { apiUrl: href, auth: parseAuth((raw as Json).auth, origin) };
}

export async function loadConfig(): Promise<AppConfig> {
  const raw = await fetchJson("/config.json", { cache: "no-store", timeoutMs: 10_000 });
  return parseConfig(raw, window.location.origin);
}
