// The input rules of the Onboarding wizard (guide steps 2-6), checked as the
// user types. The API stays the authority: these give the same codes and
// messages as its validators (rules.cases.json pins both sides to the same
// table), and its own field errors are shown at the fields after submit.

export type FieldError = { code: string; message: string };

export const SHORT_NAME_MIN = 3;
export const SHORT_NAME_MAX = 15;
export const FULL_NAME_MAX = 128;
export const MAX_USERS_PER_CUSTOMER = 500;

const FORBIDDEN = `\\/:*?"<>|.`;
const RESERVED = new Set(["audit"]);

// Go's unicode.IsSpace: the Latin-1 spaces plus the Unicode White_Space set.
const SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
// Go's unicode.IsControl: C0, DEL and C1.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** validateShortName checks a service short name (guide step 3). */
export function validateShortName(s: string): FieldError | null {
  const bad = (code: string, message: string): FieldError => ({ code, message });
  if (s === "") return bad("required", "Enter a short name for the service.");
  if (SPACE.test(s)) return bad("whitespace", "The short name cannot contain spaces or other white space.");
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x21 || c > 0x7e) return bad("not_printable_ascii", "The short name may only contain printable ASCII characters.");
  }
  for (const ch of s) {
    if (FORBIDDEN.includes(ch)) {
      const quoted = ch === "\\" ? "'\\\\'" : `'${ch}'`;
      return bad("forbidden_character", `The short name cannot contain ${quoted}: \\ / : * ? " < > | and the dot are not allowed.`);
    }
  }
  if (s.length < SHORT_NAME_MIN) return bad("too_short", `The short name must be at least ${SHORT_NAME_MIN} characters long.`);
  if (s.length > SHORT_NAME_MAX) return bad("too_long", `The short name must be at most ${SHORT_NAME_MAX} characters long.`);
  if (RESERVED.has(s.toLowerCase())) return bad("reserved", `The short name "${s}" is reserved.`);
  return null;
}

/** validateFullName checks the service's full name (guide step 2: free text). */
export function validateFullName(s: string): FieldError | null {
  const t = s.trim();
  if (t === "") return { code: "required", message: "Enter a name." };
  if (CONTROL.test(t)) return { code: "control_character", message: "The text cannot contain control characters such as line breaks or tabs." };
  if ([...t].length > FULL_NAME_MAX) return { code: "too_long", message: `The text must be at most ${FULL_NAME_MAX} characters long.` };
  return null;
}

/** roomLeft is how many users a customer can still get (guide step 5). */
export function roomLeft(reservedUsers: number): number {
  return Math.max(0, MAX_USERS_PER_CUSTOMER - reservedUsers);
}

/** validateUsers checks the licensed users of one service against the customer's room. */
export function validateUsers(raw: string, reservedUsers: number): FieldError | null {
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(n) || n < 1 || n > MAX_USERS_PER_CUSTOMER) {
    return { code: "out_of_range", message: `The number of licensed users must be between 1 and ${MAX_USERS_PER_CUSTOMER}.` };
  }
  if (reservedUsers + n > MAX_USERS_PER_CUSTOMER) {
    return {
      code: "customer_limit_exceeded",
      message: `The customer already has ${reservedUsers} licensed users; at most ${roomLeft(reservedUsers)} more can be added.`,
    };
  }
  return null;
}

/** validateAdminEmail gives the API's first, simplest refusals at once; it decides the rest. */
export function validateAdminEmail(s: string): FieldError | null {
  if (s === "") return { code: "required", message: "Enter the email address of the tenant's Global Admin or service account admin." };
  if (s.length > 254) return { code: "too_long", message: "The email address must be at most 254 characters long." };
  if (/[\u0000-\u0020\u007f-\uffff]/u.test(s) || !/^[^@]+@[^@]+$/.test(s)) {
    return { code: "invalid_email", message: "Enter one email address without a name, spaces or line breaks." };
  }
  const domain = s.slice(s.lastIndexOf("@") + 1);
  if (!domain.includes(".")) return { code: "invalid_email", message: "The email address needs a domain such as contoso.com." };
  return null;
}
