/**
 * A fake of Cognito's JSON API (`POST /` with `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`),
 * enough for USER_PASSWORD_AUTH, NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA, refresh and global
 * sign-out. Installed as `fetch`, so amazon-cognito-identity-js runs unmodified against it.
 */

export interface FakeUser {
  password: string;
  /** An invited user: the first sign-in must choose a new password. */
  mustChangePassword?: boolean;
  /** The TOTP code the user's authenticator shows (MFA enabled when set). */
  totp?: string;
}

export interface CognitoCall {
  url: string;
  target: string;
  body: Record<string, unknown>;
}

type Json = Record<string, unknown>;

const b64 = (obj: unknown) => btoa(JSON.stringify(obj)).replace(/=+$/, "");

/** A JWT-shaped token the library can decode (it never checks the signature; API Gateway does). */
function jwt(claims: Json): string {
  return `${b64({ alg: "none", kid: "fake" })}.${b64(claims)}.c2ln`;
}

const refuse = (type: string, message: string, status = 400) =>
  new Response(JSON.stringify({ __type: type, message }), { status, headers: { "Content-Type": "application/x-amz-json-1.1" } });

export function fakeCognito(users: Record<string, FakeUser>, { lifetimeS = 3600 } = {}) {
  const calls: CognitoCall[] = [];
  const refreshTokens = new Map<string, string>(); // refresh token -> user name
  const challenges = new Map<string, string>(); // session -> user name
  let serial = 0;

  function tokens(username: string, withRefresh: boolean): Json {
    serial += 1;
    const iat = Math.floor(Date.now() / 1000);
    const claims = { sub: `sub-${username}`, "cognito:username": username, iat, exp: iat + lifetimeS, jti: `t${serial}` };
    const result: Json = {
      IdToken: jwt({ ...claims, token_use: "id" }),
      AccessToken: jwt({ ...claims, token_use: "access", username }),
      ExpiresIn: lifetimeS,
      TokenType: "Bearer",
    };
    if (withRefresh) {
      const refresh = `refresh-${username}-${serial}`;
      refreshTokens.set(refresh, username);
      result.RefreshToken = refresh;
    }
    return { AuthenticationResult: result, ChallengeParameters: {} };
  }

  function challenge(username: string, name: string): Json {
    serial += 1;
    const session = `session-${serial}`;
    challenges.set(session, username);
    const parameters = name === "NEW_PASSWORD_REQUIRED" ? { userAttributes: "{}", requiredAttributes: "[]" } : {};
    return { ChallengeName: name, Session: session, ChallengeParameters: { USER_ID_FOR_SRP: username, ...parameters } };
  }

  /** After the password: a pending new password, then MFA, then tokens. */
  function next(username: string): Json {
    const user = users[username] as FakeUser;
    if (user.mustChangePassword) return challenge(username, "NEW_PASSWORD_REQUIRED");
    if (user.totp) return challenge(username, "SOFTWARE_TOKEN_MFA");
    return tokens(username, true);
  }

  function handle(op: string, body: Json): Json | Response {
    const params = (body.AuthParameters ?? body.ChallengeResponses ?? {}) as Record<string, string>;
    if (op === "InitiateAuth" && body.AuthFlow === "USER_PASSWORD_AUTH") {
      const user = users[params.USERNAME ?? ""];
      if (!user || user.password !== params.PASSWORD) return refuse("NotAuthorizedException", "Incorrect username or password.");
      return next(params.USERNAME as string);
    }
    if (op === "InitiateAuth" && body.AuthFlow === "REFRESH_TOKEN_AUTH") {
      const username = refreshTokens.get(params.REFRESH_TOKEN ?? "");
      if (username === undefined) return refuse("NotAuthorizedException", "Refresh Token has been revoked");
      return tokens(username, false);
    }
    if (op === "RespondToAuthChallenge") {
      const username = challenges.get(String(body.Session));
      if (username === undefined) return refuse("NotAuthorizedException", "Invalid session for the user.");
      const user = users[username] as FakeUser;
      if (body.ChallengeName === "NEW_PASSWORD_REQUIRED") {
        user.password = params.NEW_PASSWORD ?? "";
        user.mustChangePassword = false;
      } else if (body.ChallengeName === "SOFTWARE_TOKEN_MFA") {
        if (params.SOFTWARE_TOKEN_MFA_CODE !== user.totp) return refuse("CodeMismatchException", "Invalid code received for user");
        return tokens(username, true);
      }
      return next(username);
    }
    if (op === "GlobalSignOut") {
      const claims = JSON.parse(atob(String(body.AccessToken).split(".")[1] ?? "")) as Json;
      const username = claims.username;
      for (const [token, owner] of refreshTokens) if (owner === username) refreshTokens.delete(token);
      return {};
    }
    return refuse("InvalidParameterException", `fake Cognito does not do ${op} ${String(body.AuthFlow ?? "")}`);
  }

  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const target = new Headers(init?.headers).get("x-amz-target") ?? "";
    const body = JSON.parse(String(init?.body ?? "{}")) as Json;
    calls.push({ url: String(input), target, body });
    const op = target.replace(/^AWSCognitoIdentityProviderService\./, "");
    const answer = handle(op, body);
    return answer instanceof Response ? answer : new Response(JSON.stringify(answer), { status: 200 });
  }) as typeof fetch;

  return { fetchImpl, calls, users, ops: () => calls.map((c) => `${c.target.split(".").pop()}${c.body.AuthFlow ? `:${String(c.body.AuthFlow)}` : ""}`) };
}
