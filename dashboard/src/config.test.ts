import { describe, expect, it } from "vitest";
import { parseConfig } from "./config";

const ORIGIN = "http://127.0.0.1:8000";
const AUTH = {
  region: "eu-west-1",
  userPoolId: "eu-west-1_abc",
  clientId: "5kd0ab",
  endpoint: "http://127.0.0.1:8000/cognito-idp/",
  flow: "USER_PASSWORD_AUTH",
};
const parse = (auth: unknown, apiUrl: unknown = "http://127.0.0.1:8000") => parseConfig({ apiUrl, auth }, ORIGIN);
const withAuth = (changes: Record<string, unknown>) => parse({ ...AUTH, ...changes });

describe("parseConfig", () => {
  it("accepts the local shape and the deployed one (endpoint null, SRP)", () => {
    expect(parse(AUTH)).toEqual({ apiUrl: "http://127.0.0.1:8000", auth: AUTH });
    const deployed = parse({ ...AUTH, endpoint: null, flow: "USER_SRP_AUTH" }, "https://x.execute-api.eu-west-1.amazonaws.com/prod/");
    expect(deployed).toEqual({
      apiUrl: "https://x.execute-api.eu-west-1.amazonaws.com/prod",
      auth: { ...AUTH, endpoint: null, flow: "USER_SRP_AUTH" },
    });
  });

  it("resolves a relative endpoint against the page (a same-origin proxy)", () => {
    expect(withAuth({ endpoint: "/cognito-idp/" }).auth.endpoint).toBe("http://127.0.0.1:8000/cognito-idp/");
    expect(withAuth({ endpoint: undefined }).auth.endpoint).toBeNull();
  });

  it("requires auth", () => {
    expect(() => parseConfig({ apiUrl: "http://h" }, ORIGIN)).toThrow('config.json has no "auth" object');
    expect(() => parse("yes")).toThrow('no "auth" object');
    expect(() => parse([AUTH])).toThrow('no "auth" object');
  });

  it("names the missing or invalid field", () => {
    expect(() => withAuth({ region: undefined })).toThrow('config.json has no "auth.region"');
    expect(() => withAuth({ region: "Ireland" })).toThrow("auth.region is not an AWS region: Ireland");
    expect(() => withAuth({ userPoolId: "" })).toThrow('no "auth.userPoolId"');
    expect(() => withAuth({ userPoolId: "abc" })).toThrow("auth.userPoolId is not a user pool id: abc");
    expect(() => withAuth({ userPoolId: "us-east-1_abc" })).toThrow("is not in auth.region eu-west-1");
    expect(() => withAuth({ clientId: 42 })).toThrow('no "auth.clientId"');
    expect(() => withAuth({ endpoint: "" })).toThrow("auth.endpoint must be a URL or null");
    expect(() => withAuth({ endpoint: "ftp://x/" })).toThrow("auth.endpoint must be http(s)");
    expect(() => withAuth({ flow: "USER_SRP" })).toThrow('auth.flow must be one of USER_SRP_AUTH, USER_PASSWORD_AUTH: "USER_SRP"');
    expect(() => withAuth({ flow: undefined })).toThrow("auth.flow must be one of");
  });

  it("strips trailing slashes from apiUrl and keeps a stage path", () => {
    expect(parse(AUTH, "https://x.execute-api.eu-west-1.amazonaws.com/prod/").apiUrl).toBe("https://x.execute-api.eu-west-1.amazonaws.com/prod");
    expect(parse(AUTH, "http://127.0.0.1:8000/").apiUrl).toBe("http://127.0.0.1:8000");
  });

  it("resolves a relative apiUrl against the page origin", () => {
    expect(parse(AUTH, "/").apiUrl).toBe(ORIGIN);
    expect(parse(AUTH, "/api/").apiUrl).toBe(`${ORIGIN}/api`);
  });

  it.each([[{}], [null], [{ apiUrl: "" }], [{ apiUrl: 42 }], [{ apiUrl: "ftp://x" }]])("rejects %j", (raw) => {
    expect(() => parseConfig(raw === null ? null : { ...raw, auth: AUTH }, ORIGIN)).toThrow(/apiUrl/);
  });
});
