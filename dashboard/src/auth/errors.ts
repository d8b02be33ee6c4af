/** What to tell a person when Cognito refuses a sign-in step (its `code` is the exception name). */
export function describeAuthError(err: unknown): string {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  const message = err instanceof Error ? err.message : "";
  switch (code) {
    case "NotAuthorizedException": // wrong password, but also "Password attempts exceeded", "User is disabled."
      return message || "Incorrect user name or password.";
    case "UserNotFoundException": // same words as a wrong password: don't reveal which accounts exist
      return "Incorrect user name or password.";
    case "CodeMismatchException":
    case "ExpiredCodeException":
      return "That code is not right or has expired; enter the current one.";
    case "InvalidPasswordException": // Cognito's text says which password rule failed
      return message || "That password does not meet the pool's password policy.";
    case "PasswordResetRequiredException":
      return "This password must be reset; ask an administrator to reset it.";
    case "UserNotConfirmedException":
      return "This account is not confirmed yet.";
    case "TooManyRequestsException":
    case "LimitExceededException":
      return "Too many attempts; wait a minute and try again.";
    case "NetworkError":
      return "Couldn't reach the sign-in service; check the connection and try again.";
    default:
      return message || "Sign-in failed.";
  }
}

/** Cognito answered and refused (a revoked or expired refresh token...), as opposed to no answer. */
export function isRefusal(err: unknown): boolean {
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  return code !== "" && code !== "NetworkError";
}
