// Security > Customer Invitations (guide step 8): find an invitation by its
// token, see whether the mail was sent and what became of it, copy the
// AuthURL, resend, regenerate or revoke.
import { useState } from "preact/hooks";
import { useApi } from "../app";
import type { components } from "../api/schema";
import { failureOf, must } from "../api/client";
import { summary, type Failure } from "../problem";
import { href, navigate } from "../router";
import { Submission } from "../session";
import { decisionText, reviewOf } from "../tenant";
import { FailureNotice, Field, Notice, Status, Table, useLoad, when, YesNo } from "../ui";

type Invitation = components["schemas"]["Invitation"];
type Status = components["schemas"]["InvitationStatus"];

const statuses: Status[] = ["PENDING", "IN_PROGRESS", "TOKEN_ACQUIRED", "AWAITING_CONFIRMATION", "AUTHENTICATION_COMPLETE", "EXPIRED", "REVOKED", "FAILED"];

export function InvitationsPage(props: { token: string }) {
  const api = useApi();
  const [token, setToken] = useState(props.token);
  const [status, setStatus] = useState<Status | "">("");
  const customer = new URLSearchParams(location.search).get("customer") ?? "";
  const list = useLoad(async () => {
    const query: { tokenId?: string; status?: Status; customerId?: string; limit: number } = { limit: 50 };
    if (props.token) query.tokenId = props.token;
    if (status) query.status = status;
    if (customer) query.customerId = customer;
    return must(await api.GET("/v1/invitations", { params: { query } }));
  }, [api, props.token, status, customer]);

  const search = (e: Event) => {
    e.preventDefault();
    navigate(href("invitations", undefined, token.trim() ? { token: token.trim() } : {}));
  };

  return (
    <>
      <h1>Customer Invitations</h1>
      <form class="card search" role="search" onSubmit={search}>
        <Field id="token-search" label="Token" hint="The token of the invitation, as the Onboarding wizard showed it.">
          {(d) => <input id="token-search" value={token} aria-describedby={d || undefined} onInput={(e) => setToken(e.currentTarget.value)} />}
        </Field>
        <Field id="status-filter" label="Status">
          {() => (
            <select id="status-filter" value={status} onChange={(e) => setStatus(e.currentTarget.value as Status | "")}>
              <option value="">Any status</option>
              {statuses.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <button type="submit">Search</button>
      </form>
      <FailureNotice failure={list.failure} />
      {list.data &&
        (list.data.items.length === 0 ? (
          <p role="status">No invitation matches.</p>
        ) : (
          list.data.items.map((inv) => <InvitationCard key={inv.id} inv={inv} onChange={() => void list.reload()} />)
        ))}
    </>
  );
}

function InvitationCard(props: { inv: Invitation; onChange: () => void }) {
  const api = useApi();
  const inv = props.inv;
  const [message, setMessage] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [submissions] = useState(() => ({
    resend: new Submission(),
    regenerate: new Submission(),
    revoke: new Submission(),
    confirm: new Submission(),
    refuse: new Submission(),
  }));
  const review = reviewOf(inv);

  const decide = async (decision: "confirm" | "refuse") => {
    if (!review || !confirm(decisionText(decision, review))) return;
    setBusy(true);
    try {
      const s = submissions[decision];
      const opts = { params: { path: { id: inv.id }, header: { "Idempotency-Key": s.keyFor({ action: decision, id: inv.id }) } } };
      must(
        decision === "confirm"
          ? await api.POST("/v1/invitations/{id}/confirm-tenant", opts)
          : await api.POST("/v1/invitations/{id}/refuse-tenant", opts),
      );
      s.done();
      setMessage({ kind: "ok", text: decision === "confirm" ? "The tenant is confirmed; the upgrade can be resumed." : "The tenant is refused." });
      props.onChange();
    } catch (err) {
      setMessage({ kind: "error", text: summary(failureOf(err)) });
    } finally {
      setBusy(false);
    }
  };

  const act = async (action: "resend" | "regenerate" | "revoke", done: string) => {
    if (action !== "resend" && !confirm(action === "revoke" ? "Revoke this link? It stops working at once." : "Make a new link? The old one stops working.")) return;
    setBusy(true);
    try {
      const s = submissions[action];
      const opts = { params: { path: { id: inv.id }, header: { "Idempotency-Key": s.keyFor({ action, id: inv.id }) } } };
      const r =
        action === "resend"
          ? await api.POST("/v1/invitations/{id}/resend", opts)
          : action === "regenerate"
            ? await api.POST("/v1/invitations/{id}/regenerate", opts)
            : await api.POST("/v1/invitations/{id}/revoke", opts);
      must(r);
      s.done();
      setMessage({ kind: "ok", text: done });
      props.onChange();
    } catch (err) {
      const f: Failure = failureOf(err);
      setMessage({ kind: "error", text: summary(f) });
    } finally {
      setBusy(false);
    }
  };

  const copy = async () => {
    if (!inv.authUrl) return;
    try {
      await navigator.clipboard.writeText(inv.authUrl);
      setMessage({ kind: "ok", text: "The AuthURL is copied." });
    } catch {
      setMessage({ kind: "error", text: "The browser did not allow copying; select the link and copy it by hand." });
    }
  };

  const live = !["EXPIRED", "REVOKED", "FAILED", "AUTHENTICATION_COMPLETE", "AWAITING_CONFIRMATION"].includes(inv.status);
  return (
    <section class="card invitation" aria-labelledby={"inv-" + inv.id}>
      <h2 id={"inv-" + inv.id}>
        Token <span class="mono">{inv.tokenId}</span>
      </h2>
      {message && <Notice kind={message.kind}>{message.text}</Notice>}
      <Table label={"Invitation " + inv.tokenId}>
        <tbody>
          <tr>
            <th scope="row">Status</th>
            <td>
              <Status value={inv.status} />
            </td>
          </tr>
          <tr>
            <th scope="row">Email Sent</th>
            <td class="email-sent">
              <YesNo value={inv.emailSent} />
              {inv.emailSentAt ? ` at ${when(inv.emailSentAt)}` : ""}
            </td>
          </tr>
          <tr>
            <th scope="row">Administrator</th>
            <td>{inv.adminEmail ?? "—"}</td>
          </tr>
          <tr>
            <th scope="row">Delivery status</th>
            <td>{inv.deliveryStatus ?? "Not reported yet"}{inv.lastError ? ` (${inv.lastError})` : ""}</td>
          </tr>
          <tr>
            <th scope="row">Reminders sent</th>
            <td>{inv.remindersSent}</td>
          </tr>
          <tr>
            <th scope="row">Expires</th>
            <td>{when(inv.expiresAt)}</td>
          </tr>
          {review && (
            <tr class="tenant-review">
              <th scope="row">Tenant to confirm</th>
              <td>
                {review.name} (<span class="mono">{review.id}</span>), verified domains: {review.domains.join(", ") || "none"}
                {review.matches.length > 0 && ` (the administrator's domain: ${review.matches.join(", ")})`}
              </td>
            </tr>
          )}
          <tr>
            <th scope="row">AuthURL</th>
            <td>{inv.authUrl ? <a class="mono authurl" href={inv.authUrl} rel="noreferrer" target="_blank">{inv.authUrl}</a> : "No working link"}</td>
          </tr>
        </tbody>
      </Table>
      <p class="actions">
        {inv.authUrl && (
          <button type="button" class="secondary" onClick={() => void copy()}>
            Copy AuthURL
          </button>
        )}
        {review && (
          <>
            <button type="button" class="confirm-tenant" disabled={busy} onClick={() => void decide("confirm")}>
              Confirm tenant
            </button>
            <button type="button" class="danger refuse-tenant" disabled={busy} onClick={() => void decide("refuse")}>
              Refuse tenant
            </button>
          </>
        )}
        {live && (
          <>
            <button type="button" class="secondary resend" disabled={busy} onClick={() => void act("resend", "The Welcome mail is sent again.")}>
              Resend
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => void act("regenerate", "A new link is made and mailed; the old one no longer works.")}>
              Regenerate
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => void act("revoke", "The link is revoked.")}>
              Revoke
            </button>
          </>
        )}
      </p>
    </section>
  );
}
