// Pending Invitations (guide step 22): every upgrade with the live status of
// its invitation, until Authentication Complete, then Upgrade to resume.
import { useEffect } from "preact/hooks";
import { useApi } from "../app";
import { must } from "../api/client";
import { licenceNames } from "../licence";
import { href } from "../router";
import { FailureNotice, Status, Table, useLoad, YesNo } from "../ui";

/** POLL_MS is how often the page asks again while an invitation is open. */
const POLL_MS = 3000;

export function PendingPage() {
  const api = useApi();
  const list = useLoad(async () => must(await api.GET("/v1/upgrades", { params: { query: { limit: 100 } } })), [api]);
  const waiting = (list.data?.items ?? []).filter((u) => u.status === "PENDING_AUTHENTICATION" || u.status === "READY_TO_RESUME");
  const open = waiting.some((u) => u.invitation.status !== "AUTHENTICATION_COMPLETE");
  useEffect(() => {
    if (!open) return;
    const t = setInterval(() => void list.reload(), POLL_MS);
    return () => clearInterval(t);
  }, [open, list.reload]);

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
              {waiting.map((u) => (
                <tr key={u.id} data-token={u.invitation.tokenId}>
                  <th scope="row">{u.service.shortName}</th>
                  <td class="mono">{u.invitation.tokenId}</td>
                  <td>{licenceNames[u.service.licenseType]}</td>
                  <td>
                    <YesNo value={u.invitation.emailSent} />
                  </td>
                  <td class="invitation-status">
                    <Status value={u.invitation.status} />
                  </td>
                  <td>
                    {u.invitation.status === "AUTHENTICATION_COMPLETE" ? (
                      <a class="button" href={href("wizard", u.customerId, { resume: u.id })} aria-label={`Upgrade: resume ${u.service.shortName}`}>
                        Upgrade
                      </a>
                    ) : (
                      <a href={href("invitations", undefined, { token: u.invitation.tokenId })}>Invitation</a>
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
