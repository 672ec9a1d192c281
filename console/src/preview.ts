// The Welcome mail as it will be sent: the operator's templates with their
// placeholders filled, read exactly as the service reads them ("{{" opens
// one known name, "}}" closes it, nothing else is interpreted; values are
// never parsed again).

export const placeholders = ["operator", "customer", "service", "link", "expires"] as const;
export type Placeholder = (typeof placeholders)[number];
export type Values = Record<Placeholder, string>;

export type Rendered = { ok: true; text: string } | { ok: false; message: string };

const known = new Set<string>(placeholders);

/** render fills the placeholders of template, or says what is wrong with it, in the API's words. */
export function render(template: string, values: Values): Rendered {
  let out = "";
  let pos = 0;
  while (pos < template.length) {
    const open = template.indexOf("{{", pos);
    const stray = template.indexOf("}}", pos);
    if (stray >= 0 && (open < 0 || stray < open)) return unbalanced(stray);
    if (open < 0) {
      out += template.slice(pos);
      break;
    }
    out += template.slice(pos, open);
    const end = template.indexOf("}}", open + 2);
    if (end < 0) return unbalanced(open);
    const inner = template.slice(open + 2, end);
    if (/[{}]/.test(inner)) return unbalanced(open);
    const name = inner.replace(/^[ \t]+|[ \t]+$/g, "");
    if (!known.has(name)) {
      return { ok: false, message: `Unknown placeholder {{${name}}}; use {{customer}}, {{service}}, {{link}}, {{expires}} or {{operator}}.` };
    }
    out += values[name as Placeholder];
    pos = end + 2;
  }
  return { ok: true, text: out };
}

function unbalanced(offset: number): Rendered {
  // The API counts in bytes from 1; for the ASCII of templates that is this.
  return { ok: false, message: `Unbalanced braces at character ${offset + 1}; placeholders are written like {{link}}.` };
}

/** formatExpiry writes a time as the mails do: "Monday 2 January 2006, 15:04 UTC". */
export function formatExpiry(d: Date): string {
  const days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
  const months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
  const hh = String(d.getUTCHours()).padStart(2, "0");
  const mm = String(d.getUTCMinutes()).padStart(2, "0");
  return `${days[d.getUTCDay()]} ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${hh}:${mm} UTC`;
}

// The full stop and its look-alikes that mail clients may read as one in a
// host name (internal/mail/defang.go).
const dots = ".\u2024\u3002\uFE52\uFF0E\uFF61";
const hostish = new RegExp(`[\\p{L}\\p{N}_\\-]+(?:[${dots}][\\p{L}\\p{N}_\\-]+)+`, "gu");
const schemeish = /[a-z][a-z0-9+.-]*:\/|\b(?:mailto|tel|sips?|callto|im|xmpp|javascript|data|file|ms-[a-z-]+):/giu;
const www = new RegExp(`www[${dots}]`, "giu");
const dot = new RegExp(`[${dots}]`, "gu");

/**
 * defang writes operator text as the mail carries it: every dot of a host
 * name as "[.]" and every scheme's colon as "[:]", so that no mail client
 * turns it into a link; numbers such as 1.5 stay as they are.
 */
export function defang(s: string): string {
  s = s.replace(hostish, (m) => {
    const labels = m.split(dot);
    if (!labels.slice(1).some((l) => /\p{L}/u.test(l))) return m;
    return m.replace(dot, "[.]");
  });
  s = s.replace(www, (m) => m.slice(0, 3) + "[.]");
  return s.replace(schemeish, (m) => {
    const i = m.indexOf(":");
    return m.slice(0, i) + "[:]" + m.slice(i + 1);
  });
}

/** defangAround is defang for a text holding the service's own link, which stays a link. */
export function defangAround(s: string, link: string): string {
  if (!link) return defang(s);
  return s.split(link).map(defang).join(link);
}

/** signed adds the operator's sender name to its text as the last line, as the mail does. */
export function signed(text: string, senderName: string): string {
  return senderName.trim() ? text + "\n\n" + senderName : text;
}
