// Pending Invitations (guide step 22): each waiting upgrade with the live
// status of its invitation, until Authentication Complete, then Upgrade
// resumes the Onboarding wizard.
import { useEffect } from "preact/hooks";
import { useApi } from "../app";
import { must } from "../api/client";
import { licenceNames } from "../licence";
import { href } from "../router";
import { FailureNotice, Status, Table, useLoad, YesNo } from "../ui";

/** POLL_MS is how often the page asks again while an invitation is open. */
const POLL_MS = 3000;

const open = new Set(["PENDING", "IN_PROGRESS", "TOKEN_ACQUIRED", "AWAITING_CONFIRMATION", "AUTHENTICATION_COMPLETE"]);

export function PendingPage() {
  const api = useApi();
  // The invitations carry the live status; the upgrades name the services.
  const list = useLoad(async () => {
    const [invitations, upgrades] = await Promise.all([
      api.GET("/v1/invitations", { params: { query: { limit: 100 } } }).then(must),
      api.GET("/v1/upgrades", { params: { query: { limit: 100 } } }).then(must),
    ]);
    const byId = new Map(upgrades.items.map((u) => [u.id, u]));
    return invitations.items
      .filter((i) => open.has(i.status) && byId.get(i.upgradeId)?.status !== "COMPLETED" && byId.get(i.upgradeId)?.status !== "CANCELLED")
      .map((i) => ({ inv: i, up: byId.get(i.upgradeId) }));
  }, [api]);
  const waiting = list.data ?? [];
  const following = waiting.some((r) => r.inv.status !== "AUTHENTICATION_COMPLETE");
  useEffect(() => {
    if (!following) return;
    const t = setInterval(() => void list.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [following, list.reload]);

  return (
    <>
      <h1>Pending Invitations</h1>
      <p>Upgrades waiting for the customer's administrator. The status follows by itself; once it shows Authentication Complete, resume the upgrade.</p>
      <FailureNotice failure={list.failure} />
      {list.data &&
        (waiting.length === 0 ? (
          <p>No upgrade is waiting.</p>
        ) : (
          <Table label="Pending invitations">
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Token</th>
                <th scope="col">Licence</th>
                <th scope="col">Email Sent</th>
                <th scope="col">Status</th>
                <th scope="col">Action</th>
              </tr>
            </thead>
            <tbody aria-live="polite">
              {waiting.map(({ inv, up }) => (
                <tr key={inv.id} data-token={inv.tokenId}>
                  <th scope="row">{up?.service.shortName ?? inv.serviceId}</th>
                  <td class="mono">{inv.tokenId}</td>
                  <td>{up ? licenceNames[up.service.licenseType] : "—"}</td>
                  <td>
                    <YesNo value={inv.emailSent} />
                  </td>
                  <td class="invitation-status">
                    <Status value={inv.status} />
                  </td>
                  <td>
                    {inv.status === "AUTHENTICATION_COMPLETE" ? (
                      <a class="button" href={href("wizard", inv.customerId, { resume: inv.upgradeId })} aria-label={`Upgrade: resume ${up?.service.shortName ?? ""}`}>
                        Upgrade
                      </a>
                    ) : (
                      <a href={href("invitations", undefined, { token: inv.tokenId })}>Invitation</a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </Table>
        ))}
    </>
  );
}
