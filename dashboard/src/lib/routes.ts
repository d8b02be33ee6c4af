export type Route =
  | { name: "incidents"; focus?: string }
  | { name: "feed" }
  | { name: "fleet" }
  | { name: "insight"; id: string }
  | { name: "host"; hostname: string }
  | { name: "not-found"; path: string };

function decode(segment: string): string | null {
  try {
    const value = decodeURIComponent(segment);
    return value === "" ? null : value;
  } catch {
    return null;
  }
}

/** Map a pathname to a view. Ids and hostnames are one URL-encoded path segment. */
export function matchRoute(pathname: string): Route {
  const path = pathname.replace(/\/+$/, "") || "/";
  if (path === "/" || path === "/index.html") return { name: "incidents" };
  if (path === "/insights") return { name: "feed" };
  if (path === "/fleet") return { name: "fleet" };
  const m = /^\/(insights|hosts|incidents)\/([^/]+)$/.exec(path);
  const value = m?.[2] !== undefined ? decode(m[2]) : null;
  if (m && value !== null) {
    if (m[1] === "incidents") return { name: "incidents", focus: value }; // the link in every notification
    return m[1] === "insights" ? { name: "insight", id: value } : { name: "host", hostname: value };
  }
  return { name: "not-found", path: pathname };
}

export const FEED_PATH = "/insights";
export const FLEET_PATH = "/fleet";
export const insightHref = (id: string): string => `/insights/${encodeURIComponent(id)}`;
export const incidentHref = (id: string): string => `/incidents/${encodeURIComponent(id)}`;
export const hostHref = (hostname: string): string => `/hosts/${encodeURIComponent(hostname)}`;
