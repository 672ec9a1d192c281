// Tenants (guide step 1 and 25): customers and leads with their licence and
// users; "Upgrade Customer" / "Convert to OC Pro" opens the Onboarding wizard.
import { useState } from "preact/hooks";
import { useApi } from "../app";
import { failureOf, must } from "../api/client";
import { actionFor, licenceNames, upgradesFor } from "../licence";
import type { Failure } from "../problem";
import { href, navigate } from "../router";
import { roomLeft } from "../rules";
import { Submission } from "../session";
import { FailureNotice, Field, Notice, Table, useLoad } from "../ui";
import { ServiceTable } from "./services";

export function TenantsPage() {
  const api = useApi();
  const list = useLoad(async () => must(await api.GET("/v1/customers", { params: { query: { limit: 100 } } })), [api]);
  return (
    <>
      <h1>Tenants</h1>
      <FailureNotice failure={list.failure} />
      <NewCustomer onCreated={() => void list.reload()} />
      <h2>Customers and leads</h2>
      {list.loading && !list.data ? (
        <p aria-live="polite">Loading…</p>
      ) : list.data && list.data.items.length > 0 ? (
        <Table label="Customers and leads">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Licence</th>
              <th scope="col">Licensed users</th>
              <th scope="col">Users left</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((c) => (
              <tr key={c.id}>
                <th scope="row">
                  <a href={href("customers", c.id)}>{c.name}</a>
                </th>
                <td>{c.kind === "LEAD" ? "Lead" : "Customer"}</td>
                <td>{licenceNames[c.license]}</td>
                <td>{c.licensedUsers}</td>
                <td>{roomLeft(c.reservedUsers)}</td>
                <td>
                  {upgradesFor(c.license).length > 0 ? (
                    <a class="button" href={href("wizard", c.id)} aria-label={`${actionFor(c.kind)}: ${c.name}`}>
                      {actionFor(c.kind)}
                    </a>
                  ) : (
                    <span>Already on OC Pro</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </Table>
      ) : (
        <p>No customers yet. Create the first one above.</p>
      )}
    </>
  );
}

function NewCustomer(props: { onCreated: () => void }) {
  const api = useApi();
  const [name, setName] = useState("");
  const [kind, setKind] = useState<"CUSTOMER" | "LEAD">("CUSTOMER");
  const [domain, setDomain] = useState("");
  const [failure, setFailure] = useState<Failure | null>(null);
  const [created, setCreated] = useState("");
  const [busy, setBusy] = useState(false);
  const [submission] = useState(() => new Submission());

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setCreated("");
    const body = { name, kind, ...(domain.trim() ? { domain: domain.trim() } : {}) };
    try {
      const c = must(await api.POST("/v1/customers", { body, params: { header: { "Idempotency-Key": submission.keyFor(body) } } }));
      submission.done();
      setFailure(null);
      setCreated(c.name);
      setName("");
      setDomain("");
      props.onCreated();
    } catch (err) {
      setFailure(failureOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card" onSubmit={submit} aria-labelledby="new-customer">
      <h2 id="new-customer">Create a customer</h2>
      {created && <Notice kind="ok">{created} was created.</Notice>}
      <FailureNotice failure={failure} />
      <Field id="customer-name" label="Name" error={failure?.fields["name"]}>
        {(d) => <input id="customer-name" value={name} required maxLength={128} aria-describedby={d || undefined} onInput={(e) => setName(e.currentTarget.value)} />}
      </Field>
      <fieldset>
        <legend>Kind</legend>
        {(["CUSTOMER", "LEAD"] as const).map((k) => (
          <label key={k} class="choice">
            <input type="radio" name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} /> {k === "CUSTOMER" ? "Customer" : "Lead"}
          </label>
        ))}
      </fieldset>
      <Field id="customer-domain" label="Domain (optional)" hint="The customer's DNS domain, for example contoso.com." error={failure?.fields["domain"]}>
        {(d) => <input id="customer-domain" value={domain} aria-describedby={d || undefined} onInput={(e) => setDomain(e.currentTarget.value)} />}
      </Field>
      <button type="submit" disabled={busy}>
        Create customer
      </button>
    </form>
  );
}

/** CustomerPage shows one customer with its services (guide step 25). */
export function CustomerPage(props: { id: string }) {
  const api = useApi();
  const c = useLoad(async () => must(await api.GET("/v1/customers/{id}", { params: { path: { id: props.id } } })), [api, props.id]);
  if (c.failure) return <FailureNotice failure={c.failure} />;
  if (!c.data) return <p aria-live="polite">Loading…</p>;
  const cust = c.data;
  return (
    <>
      <h1>{cust.name}</h1>
      <dl class="facts">
        <dt>Kind</dt>
        <dd>{cust.kind === "LEAD" ? "Lead" : "Customer"}</dd>
        <dt>Licence</dt>
        <dd>{licenceNames[cust.license]}</dd>
        <dt>Licensed users</dt>
        <dd>{cust.licensedUsers}</dd>
        <dt>Users left under the 500 limit</dt>
        <dd>{roomLeft(cust.reservedUsers)}</dd>
        {cust.domain && (
          <>
            <dt>Domain</dt>
            <dd>{cust.domain}</dd>
          </>
        )}
      </dl>
      <p class="actions">
        {upgradesFor(cust.license).length > 0 && (
          <button type="button" onClick={() => navigate(href("wizard", cust.id))}>
            {actionFor(cust.kind)}
          </button>
        )}
        <a class="button secondary" href={href("m365", cust.id)}>
          M365 Settings
        </a>
        <a class="button secondary" href={href("invitations", undefined, { customer: cust.id })}>
          Invitations
        </a>
      </p>
      <h2>Services</h2>
      {cust.services && cust.services.length > 0 ? (
        <ServiceTable label="Services of the customer" services={cust.services} />
      ) : (
        <p>No services yet.</p>
      )}
    </>
  );
}
