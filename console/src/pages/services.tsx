// Services (guide steps 25-26): every service, its details with the
// permissions of its licence, and the SIP Connections tab.
import { useRef } from "preact/hooks";
import { useApi } from "../app";
import type { components } from "../api/schema";
import { must } from "../api/client";
import { licenceNames } from "../licence";
import { href, navigate } from "../router";
import { FailureNotice, Status, Table, useLoad, when } from "../ui";

export function ServicesPage() {
  const api = useApi();
  const list = useLoad(async () => must(await api.GET("/v1/upgrades", { params: { query: { limit: 100 } } })), [api]);
  return (
    <>
      <h1>Services</h1>
      <FailureNotice failure={list.failure} />
      {list.data && <ServiceTable label="Services" services={list.data.items.map((u) => u.service)} />}
    </>
  );
}

/** ServiceTable lists services, each linking to its Service Details. */
export function ServiceTable(props: { label: string; services: components["schemas"]["ServiceSummary"][] }) {
  return (
    <Table label={props.label}>
      <thead>
        <tr>
          <th scope="col">Short name</th>
          <th scope="col">Full name</th>
          <th scope="col">Licence</th>
          <th scope="col">Users</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {props.services.map((s) => (
          <tr key={s.id}>
            <th scope="row">
              <a href={href("services", s.id)}>{s.shortName}</a>
            </th>
            <td>{s.fullName}</td>
            <td>{licenceNames[s.licenseType]}</td>
            <td>{s.licensedUsers}</td>
            <td>
              <Status value={s.status} />
            </td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

const tabs = [
  ["details", "Service Details"],
  ["sip", "SIP Connections"],
] as const;

export function ServicePage(props: { id: string; tab: string }) {
  const api = useApi();
  const svc = useLoad(async () => must(await api.GET("/v1/services/{id}", { params: { path: { id: props.id } } })), [api, props.id]);
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([]);
  const current = props.tab === "sip" ? "sip" : "details";
  const open = (t: string) => navigate(href("services", props.id, t === "details" ? {} : { tab: t }));
  const onKey = (e: KeyboardEvent, i: number) => {
    if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
    e.preventDefault();
    const next = (i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length;
    open(tabs[next]?.[0] ?? "details");
    tabRefs.current[next]?.focus();
  };
  if (svc.failure) return <FailureNotice failure={svc.failure} />;
  if (!svc.data) return <p aria-live="polite">Loading…</p>;
  const s = svc.data;
  return (
    <>
      <h1>Service {s.shortName}</h1>
      <p>
        <a href={href("m365", s.customerId)}>M365 Settings of the customer</a>
      </p>
      <div role="tablist" aria-label="Service" class="tabs">
        {tabs.map(([key, label], i) => (
          <button
            key={key}
            ref={(el) => {
              tabRefs.current[i] = el;
            }}
            type="button"
            role="tab"
            id={"tab-" + key}
            aria-selected={current === key}
            aria-controls={"panel-" + key}
            tabIndex={current === key ? 0 : -1}
            onClick={() => open(key)}
            onKeyDown={(e) => onKey(e, i)}
          >
            {label}
          </button>
        ))}
      </div>
      {current === "details" ? (
        <section role="tabpanel" id="panel-details" aria-labelledby="tab-details" tabIndex={0}>
          <dl class="facts">
            <dt>Full name</dt>
            <dd>{s.fullName}</dd>
            <dt>Status</dt>
            <dd id="service-status">
              <Status value={s.status} />
            </dd>
            <dt>Licence</dt>
            <dd>{licenceNames[s.licenseType]}</dd>
            <dt>Licensed users</dt>
            <dd>{s.licensedUsers}</dd>
            <dt>Created</dt>
            <dd>{when(s.createdAt)}</dd>
          </dl>
          <h2>Permissions of the licence</h2>
          {s.permissions.length > 0 ? (
            <ul class="permissions">
              {s.permissions.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          ) : (
            <p>None until the service is ACTIVE.</p>
          )}
        </section>
      ) : (
        <section role="tabpanel" id="panel-sip" aria-labelledby="tab-sip" tabIndex={0}>
          <SIPConnections id={s.id} />
        </section>
      )}
    </>
  );
}

function SIPConnections(props: { id: string }) {
  const api = useApi();
  const list = useLoad(async () => must(await api.GET("/v1/services/{id}/sip-connections", { params: { path: { id: props.id } } })), [api, props.id]);
  if (list.failure) return <FailureNotice failure={list.failure} />;
  if (!list.data) return <p aria-live="polite">Loading…</p>;
  if (list.data.items.length === 0) return <p>No SIP connection yet: one is created when the upgrade is resumed.</p>;
  return (
    <Table label="SIP connections">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">FQDN</th>
          <th scope="col">Port</th>
          <th scope="col">Transport</th>
          <th scope="col">Status</th>
        </tr>
      </thead>
      <tbody>
        {list.data.items.map((c) => (
          <tr key={c.id}>
            <th scope="row">{c.name}</th>
            <td class="mono sip-fqdn">{c.fqdn}</td>
            <td>{c.port}</td>
            <td>{c.transport}</td>
            <td>
              <Status value={c.status} />
            </td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
