// M365 Settings (guide steps 27-29): the customer's tenant, who authenticated
// and when, the credential, the keep-alive's verdict, and Validate
// Authentication with its result at the top of the page.
import { useState } from "preact/hooks";
import { useApi } from "../app";
import type { components } from "../api/schema";
import { failureOf, must } from "../api/client";
import { summary, tenantAdvice } from "../problem";
import { href } from "../router";
import { Notice, FailureNotice, Status, useLoad, when } from "../ui";

type Validation = components["schemas"]["Validation"];
type Check = components["schemas"]["Check"];

const accessWords: Record<string, string> = {
  WORKING: "The keep-alive reached the tenant with its kept credentials.",
  DEGRADED: "Some checks fail; the service may stop working for this customer.",
  STOPPED: "The service can no longer reach the tenant; re-initiate the authentication.",
  UNKNOWN: "Not checked yet.",
};

export function M365Page(props: { customerId: string }) {
  const api = useApi();
  const m = useLoad(async () => must(await api.GET("/v1/customers/{id}/m365", { params: { path: { id: props.customerId } } })), [api, props.customerId]);
  const [result, setResult] = useState<{ kind: "ok" | "error"; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const validate = async () => {
    setBusy(true);
    try {
      const v = must(await api.POST("/v1/customers/{id}/m365/validate", { params: { path: { id: props.customerId } } }));
      setResult(describe(v));
      await m.reload();
    } catch (err) {
      setResult({ kind: "error", text: summary(failureOf(err)) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>M365 Settings</h1>
      {result && (
        <Notice kind={result.kind} id="validation-result">
          {result.text}
        </Notice>
      )}
      {m.failure &&
        (m.failure.status === 404 ? (
          <Notice kind="info">No tenant yet: the settings appear once an upgrade of this customer has finished with a consented tenant.</Notice>
        ) : (
          <FailureNotice failure={m.failure} />
        ))}
      {m.data && (
        <>
          <p class="actions">
            <button type="button" id="validate" disabled={busy} onClick={() => void validate()}>
              {busy ? "Validating…" : "Validate Authentication"}
            </button>
            <a class="button secondary" href={href("invitations", undefined, { customer: props.customerId })}>
              Re-initiate Authentication Flow
            </a>
          </p>
          <h2>Tenant account credentials</h2>
          <dl class="facts">
            <dt>Access</dt>
            <dd id="access">
              <Status value={m.data.access} /> {accessWords[m.data.access]}
            </dd>
            <dt>Tenant id</dt>
            <dd class="mono">{m.data.tenantId}</dd>
            {m.data.tenantDomain && (
              <>
                <dt>Tenant domain</dt>
                <dd>{m.data.tenantDomain}</dd>
              </>
            )}
            <dt>Application id</dt>
            <dd class="mono">{m.data.applicationId}</dd>
            <dt>Authenticated by</dt>
            <dd>{m.data.consentedBy ?? m.data.account ?? "—"}</dd>
            <dt>Authenticated at</dt>
            <dd>{when(m.data.consentedAt)}</dd>
            <dt>Credential</dt>
            <dd>
              {m.data.credentialExpiresAt
                ? `Expires ${when(m.data.credentialExpiresAt)} (${m.data.credentialDaysLeft ?? "?"} days left)`
                : m.data.account
                  ? `Kept for ${m.data.account}`
                  : "No delegated credential kept"}
            </dd>
            <dt>Granted permissions</dt>
            <dd>{m.data.grantedPermissions.join(", ") || "None"}</dd>
            <dt>Last validation</dt>
            <dd>{m.data.lastValidation ? `${m.data.lastValidation.passed ? "Passed" : "Failed"} at ${when(m.data.lastValidation.at)}` : "Never"}</dd>
          </dl>
        </>
      )}
    </>
  );
}

/** describe says what a validation found, in words the operator can act on. */
export function describe(v: Validation): { kind: "ok" | "error"; text: string } {
  if (v.passed) {
    return { kind: "ok", text: `Validate Authentication succeeded at ${when(v.at)}: the token connection to the customer's tenant works.` };
  }
  const parts: string[] = [`Validate Authentication failed at ${when(v.at)}.`];
  const add = (name: string, c: Check | undefined) => {
    if (!c || c.passed || !c.failure) return;
    parts.push(`${name}: ${c.failure.reason}${c.failure.aadsts ? ` (AADSTS${c.failure.aadsts})` : ""}.`);
    if (c.failure.missingPermissions?.length) parts.push(`Missing permissions: ${c.failure.missingPermissions.join(", ")}.`);
    parts.push(tenantAdvice(c.failure.code, c.failure.transient));
  };
  add("Application access", v.application);
  add("Delegated access", v.delegated);
  return { kind: "error", text: parts.join(" ") };
}
