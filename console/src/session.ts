// Decisions about the staff sign-in that do not need a browser: when to
// renew the access token, whether a token can call the API, and which
// MSAL failures mean "sign in again".

/** Renew this long before the access token expires, so no call meets an expired one. */
export const RENEW_BEFORE_MS = 5 * 60 * 1000;

/** renewalDelay is how long to wait before renewing a token that expires at expiresOn. */
export function renewalDelay(expiresOn: Date, now: Date): number {
  return Math.max(0, expiresOn.getTime() - now.getTime() - RENEW_BEFORE_MS);
}

/** hasScope reports whether the granted scopes hold the console's scope. */
export function hasScope(granted: readonly string[], scope: string): boolean {
  const short = scope.slice(scope.lastIndexOf("/") + 1).toLowerCase();
  return granted.some((s) => s.toLowerCase() === scope.toLowerCase() || s.toLowerCase() === short);
}

/**
 * needsInteraction reports whether a failed silent token request can only be
 * answered by signing in again: the refresh token expired (a single-page
 * app's live 24 hours, AADSTS700084) or was revoked, or there is none.
 */
export function needsInteraction(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const e = err as { name?: unknown; errorCode?: unknown; subError?: unknown; errorMessage?: unknown };
  if (e.name === "InteractionRequiredAuthError") return true;
  const code = typeof e.errorCode === "string" ? e.errorCode : "";
  if (["invalid_grant", "interaction_required", "login_required", "consent_required", "no_tokens_found", "refresh_token_expired", "no_account_error"].includes(code)) {
    return true;
  }
  const msg = typeof e.errorMessage === "string" ? e.errorMessage : "";
  return /AADSTS(700084|700082|50173|70008)\b/.test(msg);
}

/** newIdempotencyKey makes the key one submission of a form is sent with. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

/**
 * Submission keeps one Idempotency-Key for one intended change: every retry
 * or double click of the same input sends the same key, so the API makes
 * the change once; changed input is a new intention with a new key.
 */
export class Submission {
  private key = "";
  private body = "";

  keyFor(body: unknown): string {
    const b = JSON.stringify(body);
    if (b !== this.body || this.key === "") {
      this.body = b;
      this.key = newIdempotencyKey();
    }
    return this.key;
  }

  /** done forgets the key once the change is made, so the next one is new. */
  done(): void {
    this.key = "";
    this.body = "";
  }
}
