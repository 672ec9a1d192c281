// Reading the API's refusals (RFC 9457 problem documents, and API Gateway's
// own {"message"} answers) into what a page shows: a sentence at the top and
// one message per field.

export type FieldErrors = Record<string, string>;

export type Failure = {
  status: number;
  title: string;
  detail: string;
  fields: FieldErrors;
  /** Seconds to wait before trying again (429, 503), when the API said. */
  retryAfter?: number;
  /** The first field error's code, for pages that act on it. */
  code?: string;
};

type ProblemBody = {
  title?: unknown;
  detail?: unknown;
  message?: unknown;
  errors?: unknown;
};

/** retryAfterSeconds reads Retry-After as seconds; an HTTP date counts from now. */
export function retryAfterSeconds(value: string | null, now: Date = new Date()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/** waitMessage says how long to wait, in whole seconds. */
export function waitMessage(seconds: number): string {
  const n = Math.max(1, Math.ceil(seconds));
  return `Wait ${n} second${n === 1 ? "" : "s"} before trying again.`;
}

const fallbackTitles: Record<number, string> = {
  401: "Your sign-in is no longer valid.",
  403: "Your account may not use the console.",
  404: "Not found.",
  409: "This cannot be done in the record's current state.",
  413: "The request is too large.",
  422: "This breaks a rule.",
  429: "Too many requests.",
  500: "Something went wrong on the service's side.",
  503: "A service the console depends on is busy.",
};

/** toFailure turns a refused answer into what the page shows. */
export function toFailure(status: number, headers: Headers, body: unknown): Failure {
  const b = (typeof body === "object" && body !== null ? body : {}) as ProblemBody;
  const fields: FieldErrors = {};
  let code: string | undefined;
  if (Array.isArray(b.errors)) {
    for (const e of b.errors as unknown[]) {
      if (typeof e !== "object" || e === null) continue;
      const { field, message, code: c } = e as { field?: unknown; message?: unknown; code?: unknown };
      if (typeof field === "string" && typeof message === "string" && !(field in fields)) {
        fields[field] = message;
        if (code === undefined && typeof c === "string") code = c;
      }
    }
  }
  const title =
    typeof b.title === "string" ? b.title : typeof b.message === "string" ? b.message : (fallbackTitles[status] ?? `The request failed (${status}).`);
  const failure: Failure = { status, title, detail: typeof b.detail === "string" ? b.detail : "", fields };
  if (code !== undefined) failure.code = code;
  const wait = retryAfterSeconds(headers.get("Retry-After"));
  if (wait !== undefined) failure.retryAfter = wait;
  return failure;
}

/** summary is the sentence shown at the top of a page for a failure. */
export function summary(f: Failure): string {
  const parts = [f.title];
  if (f.detail && f.detail !== f.title) parts.push(f.detail);
  if (f.status === 429 || (f.status === 503 && f.retryAfter !== undefined)) parts.push(waitMessage(f.retryAfter ?? 1));
  return parts.join(" ");
}

/**
 * tenantAdvice says what the operator can do about a failed validation of
 * the customer's tenant (resume, Validate Authentication), by its code.
 */
export function tenantAdvice(code: string | undefined, transient: boolean): string {
  if (transient) return "Microsoft did not answer in time; nothing changed. Try again in a little while.";
  switch (code) {
    case "consent_revoked":
    case "app_not_in_tenant":
    case "refresh_token_expired":
    case "refresh_token_revoked":
    case "wrong_tenant":
      return "Use Re-initiate Authentication Flow on the invitation: the customer's administrator gets a new link and signs in again.";
    case "secret_expired":
    case "secret_invalid":
      return "The operator's own application credential needs attention; the customer need not do anything.";
    case "conditional_access":
      return "Ask the customer's administrator to allow the sign-in in their Conditional Access policies, then validate again.";
    case "missing_permissions":
      return "The customer's administrator must grant every permission: Re-initiate Authentication Flow and consent again.";
    default:
      return "Check the reason above; Re-initiate Authentication Flow gives the customer's administrator a new link.";
  }
}
