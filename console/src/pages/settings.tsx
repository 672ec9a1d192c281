// Email settings: what the Welcome mail and the reminders say, a preview of
// the Welcome mail as it will be sent, and a test mail.
import { useEffect, useState } from "preact/hooks";
import { useApi } from "../app";
import type { components } from "../api/schema";
import { failureOf, must } from "../api/client";
import { defang, defangAround, formatExpiry, render, signed } from "../preview";
import type { Failure } from "../problem";
import { Submission } from "../session";
import { FailureNotice, Field, Notice, useLoad } from "../ui";

type Settings = components["schemas"]["EmailSettings"];

// testRecipients is a list, not a text field, and fromName is the
// deployment's, not a setting.
const fields: { key: Exclude<keyof Settings, "testRecipients" | "fromName">; label: string; long?: boolean }[] = [
  { key: "senderName", label: "Signature (the last line of your text)" },
  { key: "replyTo", label: "Reply-to address (optional)" },
  { key: "welcomeSubject", label: "Welcome mail subject" },
  { key: "welcomeBody", label: "Welcome mail text", long: true },
  { key: "reminderSubject", label: "Reminder subject" },
  { key: "reminderBody", label: "Reminder text", long: true },
];

export function EmailSettingsPage() {
  const api = useApi();
  const loaded = useLoad(async () => must(await api.GET("/v1/settings/email")), [api]);
  const [form, setForm] = useState<Settings | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [recipients, setRecipients] = useState("");
  useEffect(() => {
    setForm(loaded.data);
    setRecipients((loaded.data?.testRecipients ?? []).join("\n"));
  }, [loaded.data]);
  if (loaded.failure) return <FailureNotice failure={loaded.failure} />;
  if (!form) return <p aria-live="polite">Loading…</p>;

  const save = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setSaved(false);
    // The From name is the deployment's: the API ignores it, so it is not sent.
    const { fromName: _, ...settings } = form;
    const body: Settings = { ...settings, testRecipients: recipientList(recipients) };
    if (!body.replyTo) delete body.replyTo;
    try {
      const saved = must(await api.PUT("/v1/settings/email", { body }));
      setForm(saved);
      setRecipients((saved.testRecipients ?? []).join("\n"));
      setFailure(null);
      setSaved(true);
    } catch (err) {
      setFailure(failureOf(err));
    } finally {
      setBusy(false);
    }
  };

  // The mail fills {{operator}} with the From name and defangs everything
  // but the service's own link.
  const from = form.fromName ?? "";
  const sample = {
    operator: from,
    customer: "Contoso",
    service: "OC Pro",
    link: location.origin + "/invite/…",
    expires: formatExpiry(new Date(Date.now() + 7 * 24 * 3600 * 1000)),
  };
  const subject = render(form.welcomeSubject, sample);
  const bodyText = render(signed(form.welcomeBody, form.senderName), sample);

  return (
    <>
      <h1>Email settings</h1>
      {saved && <Notice kind="ok">The settings are saved; the next mails use them.</Notice>}
      <FailureNotice failure={failure} />
      <div class="split">
        <form class="card" onSubmit={save} noValidate>
          <p class="hint">
            Texts may use {"{{operator}}"}, {"{{customer}}"}, {"{{service}}"}, {"{{link}}"} and {"{{expires}}"}; the texts must contain {"{{link}}"}.
          </p>
          {fields.map((f) => (
            <Field key={f.key} id={"mail-" + f.key} label={f.label} error={failure?.fields[f.key]}>
              {(d) =>
                f.long ? (
                  <textarea
                    id={"mail-" + f.key}
                    rows={8}
                    value={form[f.key] ?? ""}
                    aria-describedby={d || undefined}
                    onInput={(e) => setForm({ ...form, [f.key]: e.currentTarget.value })}
                  />
                ) : (
                  <input
                    id={"mail-" + f.key}
                    value={form[f.key] ?? ""}
                    aria-describedby={d || undefined}
                    onInput={(e) => setForm({ ...form, [f.key]: e.currentTarget.value })}
                  />
                )
              }
            </Field>
          ))}
          <Field
            id="mail-testRecipients"
            label="Test recipients (optional)"
            hint="Besides your own address, test mails may go only to these: one address per line, at most 10."
            error={failure?.fields["testRecipients"]}
          >
            {(d) => (
              <textarea
                id="mail-testRecipients"
                rows={3}
                value={recipients}
                aria-describedby={d || undefined}
                onInput={(e) => setRecipients(e.currentTarget.value)}
              />
            )}
          </Field>
          <button type="submit" disabled={busy}>
            Save settings
          </button>
        </form>
        <section class="card preview" aria-labelledby="preview-title">
          <h2 id="preview-title">Welcome mail preview</h2>
          <p class="hint">As it will be sent to the administrator of a customer called Contoso.</p>
          <p id="preview-from">
            <strong>From:</strong> {from}
            {form.replyTo ? ` (replies to ${form.replyTo})` : ""}
          </p>
          <p>
            <strong>Subject:</strong> {subject.ok ? defang(subject.text) : <span class="error">Error: {subject.message}</span>}
          </p>
          {bodyText.ok ? <pre class="mail">{defangAround(bodyText.text, sample.link)}</pre> : <p class="error">Error: {bodyText.message}</p>}
        </section>
      </div>
      <TestMail />
    </>
  );
}

/** recipientList reads the test recipients, one per line; blank lines do not count. */
function recipientList(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}

function TestMail() {
  const api = useApi();
  const [to, setTo] = useState("");
  const [failure, setFailure] = useState<Failure | null>(null);
  const [queued, setQueued] = useState("");
  const [submission] = useState(() => new Submission());
  const send = async (e: Event) => {
    e.preventDefault();
    const body = { to };
    try {
      const r = must(await api.POST("/v1/settings/email/test", { body, params: { header: { "Idempotency-Key": submission.keyFor(body) } } }));
      submission.done();
      setFailure(null);
      setQueued(r.to);
    } catch (err) {
      setFailure(failureOf(err));
      setQueued("");
    }
  };
  return (
    <form class="card" onSubmit={send} noValidate aria-labelledby="test-mail">
      <h2 id="test-mail">Send a test mail</h2>
      {queued && <Notice kind="ok">A test mail with the saved settings goes to {queued} within seconds.</Notice>}
      <FailureNotice failure={failure} />
      <Field id="test-to" label="Send the test mail to" error={failure?.fields["to"]}>
        {(d) => <input id="test-to" type="email" value={to} aria-describedby={d || undefined} onInput={(e) => setTo(e.currentTarget.value)} />}
      </Field>
      <button type="submit">Send test mail</button>
    </form>
  );
}
