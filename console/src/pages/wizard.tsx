// The Onboarding wizard: start an upgrade (guide steps 1-7) or resume one
// whose administrator has signed in (steps 23-24).
import { useMemo, useState } from "preact/hooks";
import { useApi } from "../app";
import type { components } from "../api/schema";
import { failureOf, must } from "../api/client";
import { licenceNames, upgradesFor, type TargetLicense } from "../licence";
import { tenantAdvice, type Failure } from "../problem";
import { href } from "../router";
import { roomLeft, validateAdminEmail, validateFullName, validateShortName, validateUsers } from "../rules";
import { Submission } from "../session";
import { FailureNotice, Field, Notice, Status, useLoad, when, YesNo } from "../ui";

type Upgrade = components["schemas"]["Upgrade"];

export function WizardPage(props: { customerId: string; resume: string }) {
  const api = useApi();
  const customer = useLoad(async () => must(await api.GET("/v1/customers/{id}", { params: { path: { id: props.customerId } } })), [api, props.customerId]);
  if (customer.failure) return <FailureNotice failure={customer.failure} />;
  if (!customer.data) return <p aria-live="polite">Loading…</p>;
  return props.resume ? <Resume customer={customer.data} upgradeId={props.resume} /> : <Start customer={customer.data} />;
}

type Customer = components["schemas"]["Customer"];

function Start(props: { customer: Customer }) {
  const api = useApi();
  const c = props.customer;
  const targets = upgradesFor(c.license);
  const [fullName, setFullName] = useState("");
  const [shortName, setShortName] = useState("");
  const [licence, setLicence] = useState<TargetLicense | "">(targets.length === 1 ? (targets[0] ?? "") : "");
  const [users, setUsers] = useState("");
  const [send, setSend] = useState(true);
  const [email, setEmail] = useState("");
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Upgrade | null>(null);
  const [submission] = useState(() => new Submission());

  const local = useMemo(
    () => ({
      serviceFullName: validateFullName(fullName)?.message,
      serviceShortName: validateShortName(shortName)?.message,
      licenseType: licence ? undefined : "Select the OC Essentials Plus or OC Pro licence type.",
      licensedUsers: validateUsers(users, c.reservedUsers)?.message,
      adminEmail: send ? validateAdminEmail(email)?.message : undefined,
    }),
    [fullName, shortName, licence, users, send, email, c.reservedUsers],
  );
  // The API's answer wins at a field until the user changes it again.
  const errorOf = (f: keyof typeof local) => (touched[f] ? local[f] : undefined) ?? failure?.fields[f];
  const touch = (f: string) => {
    setTouched((t) => ({ ...t, [f]: true }));
    if (failure?.fields[f]) setFailure({ ...failure, fields: { ...failure.fields, [f]: "" } });
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setTouched({ serviceFullName: true, serviceShortName: true, licenseType: true, licensedUsers: true, adminEmail: true });
    if (busy || Object.values(local).some(Boolean) || !licence) return;
    setBusy(true);
    const body = {
      serviceFullName: fullName.trim(),
      serviceShortName: shortName,
      licenseType: licence,
      licensedUsers: Number(users),
      sendInvitation: send,
      ...(send ? { adminEmail: email } : {}),
    };
    try {
      // One key per intended upgrade: a double click or a retry after a
      // lost answer cannot create a second one.
      const up = must(
        await api.POST("/v1/customers/{id}/upgrades", {
          params: { path: { id: c.id }, header: { "Idempotency-Key": submission.keyFor(body) } },
          body,
        }),
      );
      submission.done();
      setFailure(null);
      setDone(up);
    } catch (err) {
      const f = failureOf(err);
      setFailure(f);
      setTouched({});
    } finally {
      setBusy(false);
    }
  };

  if (done) return <Started upgrade={done} customer={c} />;
  if (targets.length === 0) {
    return (
      <>
        <h1>Onboarding wizard</h1>
        <Notice kind="info">{c.name} already holds OC Pro: there is nothing to upgrade to.</Notice>
      </>
    );
  }
  const room = roomLeft(c.reservedUsers);
  return (
    <>
      <h1>Onboarding wizard: {c.name}</h1>
      <p>
        {c.kind === "LEAD" ? "Convert the lead" : "Upgrade the customer"} from {licenceNames[c.license]}. The customer's IT administrator gets a link to
        approve Microsoft Teams access.
      </p>
      <FailureNotice failure={failure} />
      <form onSubmit={submit} noValidate class="card">
        <Field id="fullName" label="Full name of the service" hint="Free text, up to 128 characters." error={errorOf("serviceFullName")}>
          {(d) => (
            <input
              id="fullName"
              value={fullName}
              aria-describedby={d || undefined}
              aria-invalid={errorOf("serviceFullName") ? true : undefined}
              onInput={(e) => {
                setFullName(e.currentTarget.value);
                touch("serviceFullName");
              }}
            />
          )}
        </Field>
        <Field
          id="shortName"
          label="Short name of the service"
          hint={'3-15 characters: letters, numbers and special characters, but no dot, no spaces and none of \\ / : * ? " < > |. Unique; "audit" is reserved.'}
          error={errorOf("serviceShortName")}
        >
          {(d) => (
            <input
              id="shortName"
              value={shortName}
              autoComplete="off"
              spellcheck={false}
              aria-describedby={d || undefined}
              aria-invalid={errorOf("serviceShortName") ? true : undefined}
              onInput={(e) => {
                setShortName(e.currentTarget.value);
                touch("serviceShortName");
              }}
            />
          )}
        </Field>
        <fieldset aria-describedby={errorOf("licenseType") ? "licence-error" : undefined}>
          <legend>Licence type</legend>
          {targets.map((t) => (
            <label key={t} class="choice">
              <input
                type="radio"
                name="licence"
                value={t}
                checked={licence === t}
                onChange={() => {
                  setLicence(t);
                  touch("licenseType");
                }}
              />{" "}
              {licenceNames[t]}
            </label>
          ))}
          {errorOf("licenseType") && (
            <p class="error" id="licence-error">
              Error: {errorOf("licenseType")}
            </p>
          )}
        </fieldset>
        <Field
          id="users"
          label="Number of licensed users"
          hint={`At most 500 per customer; ${c.name} has ${room} left.`}
          error={errorOf("licensedUsers")}
        >
          {(d) => (
            <input
              id="users"
              type="number"
              inputMode="numeric"
              min={1}
              max={room}
              value={users}
              aria-describedby={d || undefined}
              aria-invalid={errorOf("licensedUsers") ? true : undefined}
              onInput={(e) => {
                setUsers(e.currentTarget.value);
                touch("licensedUsers");
              }}
            />
          )}
        </Field>
        <label class="choice">
          <input type="checkbox" id="send" checked={send} onChange={(e) => setSend(e.currentTarget.checked)} /> Send link to IT administrator for
          authentication
        </label>
        {send && (
          <Field id="adminEmail" label="Email address of the Global Admin or service account admin" error={errorOf("adminEmail")}>
            {(d) => (
              <input
                id="adminEmail"
                type="email"
                autoComplete="off"
                value={email}
                aria-describedby={d || undefined}
                aria-invalid={errorOf("adminEmail") ? true : undefined}
                onInput={(e) => {
                  setEmail(e.currentTarget.value);
                  touch("adminEmail");
                }}
              />
            )}
          </Field>
        )}
        <p class="actions">
          <button type="submit" id="create-upgrade" disabled={busy}>
            {busy ? "Creating…" : "Create and send"}
          </button>
          <a class="button secondary" href={href("tenants")}>
            Cancel
          </a>
        </p>
      </form>
    </>
  );
}

function Started(props: { upgrade: Upgrade; customer: Customer }) {
  const inv = props.upgrade.invitation;
  return (
    <>
      <h1>Onboarding wizard: {props.customer.name}</h1>
      <Notice kind="ok" id="upgrade-created">
        The service {props.upgrade.service.shortName} waits for the customer's authentication.
      </Notice>
      <dl class="facts">
        <dt>Token</dt>
        <dd id="created-token">{inv.tokenId}</dd>
        <dt>Invitation status</dt>
        <dd>
          <Status value={inv.status} />
        </dd>
        <dt>Email Sent</dt>
        <dd>
          <YesNo value={inv.emailSent} /> (the mail goes out within seconds)
        </dd>
        <dt>Expires</dt>
        <dd>{when(inv.expiresAt)}</dd>
      </dl>
      <p class="actions">
        <a class="button" href={href("invitations", undefined, { token: inv.tokenId })}>
          Open in Customer Invitations
        </a>
        <a class="button secondary" href={href("tenants")}>
          Close
        </a>
      </p>
    </>
  );
}

/** Resume confirms licence and users once the administrator has signed in (guide steps 23-24). */
function Resume(props: { customer: Customer; upgradeId: string }) {
  const api = useApi();
  const up = useLoad(async () => must(await api.GET("/v1/upgrades/{id}", { params: { path: { id: props.upgradeId } } })), [api, props.upgradeId]);
  const [licence, setLicence] = useState<TargetLicense | "">("");
  const [users, setUsers] = useState("");
  const [failure, setFailure] = useState<Failure | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<Upgrade | null>(null);
  const [submission] = useState(() => new Submission());
  if (up.failure) return <FailureNotice failure={up.failure} />;
  if (!up.data) return <p aria-live="polite">Loading…</p>;
  const u = up.data;
  const svc = u.service;
  const chosen: TargetLicense = licence || (svc.licenseType === "OC_ESSENTIALS" ? "OC_PRO" : svc.licenseType);
  const count = users || String(svc.licensedUsers);
  // The service's own users are already held for it.
  const usersError = validateUsers(count, props.customer.reservedUsers - svc.licensedUsers)?.message;

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy || usersError) return;
    setBusy(true);
    const body = { licenseType: chosen, licensedUsers: Number(count) };
    try {
      const r = must(
        await api.POST("/v1/upgrades/{id}/resume", { params: { path: { id: u.id }, header: { "Idempotency-Key": submission.keyFor(body) } }, body }),
      );
      submission.done();
      setFailure(null);
      setDone(r);
    } catch (err) {
      setFailure(failureOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (done) {
    return (
      <>
        <h1>Onboarding wizard: {props.customer.name}</h1>
        <Notice kind="ok" id="resumed">
          The tenant account was validated and the service {done.service.shortName} is <Status value={done.service.status} /> on{" "}
          {licenceNames[done.service.licenseType]}.
        </Notice>
        <p class="actions">
          <a class="button" href={href("services", done.service.id)}>
            Service Details
          </a>
          <a class="button secondary" href={href("m365", props.customer.id)}>
            M365 Settings
          </a>
        </p>
      </>
    );
  }
  const tenantProblem = failure?.fields["tenant"];
  return (
    <>
      <h1>Onboarding wizard: resume {svc.shortName}</h1>
      <p>Confirm the licence type and the number of licensed users; the tenant account is validated and the service is upgraded.</p>
      {failure && (
        <Notice kind="error">
          {failure.title}
          {failure.detail && failure.detail !== failure.title ? " " + failure.detail : ""}
          {tenantProblem && (
            <>
              {" "}
              Microsoft said: {tenantProblem} What to do: {tenantAdvice(failure.code, failure.status === 503)}
            </>
          )}
          {failure.status === 409 && !tenantProblem && " The customer's administrator has not completed the authentication yet; see Pending Invitations."}
        </Notice>
      )}
      <form onSubmit={submit} class="card" noValidate>
        <fieldset>
          <legend>Licence type</legend>
          {(["OC_ESSENTIALS_PLUS", "OC_PRO"] as const).map((t) => (
            <label key={t} class="choice">
              <input type="radio" name="licence" value={t} checked={chosen === t} onChange={() => setLicence(t)} /> {licenceNames[t]}
            </label>
          ))}
        </fieldset>
        <Field id="resume-users" label="Number of licensed users" error={usersError ?? failure?.fields["licensedUsers"]}>
          {(d) => (
            <input
              id="resume-users"
              type="number"
              inputMode="numeric"
              min={1}
              value={count}
              aria-describedby={d || undefined}
              onInput={(e) => setUsers(e.currentTarget.value)}
            />
          )}
        </Field>
        <p class="actions">
          <button type="submit" id="resume" disabled={busy}>
            {busy ? "Validating…" : "Next: validate and upgrade"}
          </button>
        </p>
      </form>
    </>
  );
}
