export type QueryParams = Record<string, string | number | null | undefined>;

/**
 * Join an API base URL (with or without a trailing slash, possibly with a stage path such as
 * `https://abc.execute-api.eu-west-1.amazonaws.com/prod/`) and a route path, plus query params.
 * Params that are null/undefined are left out.
 */
export function joinUrl(base: string, path: string, params: QueryParams = {}): string {
  const left = base.replace(/\/+$/, "");
  const right = path.replace(/^\/+/, "");
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined) query.set(k, String(v));
  }
  const qs = query.toString();
  return `${left}/${right}${qs ? `?${qs}` : ""}`;
}
