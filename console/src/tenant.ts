// Staff's review of a tenant the wizard could not tell is the customer's
// (an invitation AWAITING_CONFIRMATION): what the card shows, and which
// decisions it offers.
import type { components } from "./api/schema";

type Invitation = components["schemas"]["Invitation"];

export type TenantReview = {
  name: string;
  id: string;
  domains: string[];
  // matches names the verified domains that are the administrator
  // address's, which may help staff decide.
  matches: string[];
};

// reviewOf returns the tenant to judge, or null when the invitation waits
// for no decision.
export function reviewOf(inv: Invitation): TenantReview | null {
  if (inv.status !== "AWAITING_CONFIRMATION" || !inv.tenantId) return null;
  const domains = inv.tenantDomains ?? [];
  const admin = (inv.adminEmail ?? "").split("@")[1]?.toLowerCase() ?? "";
  return {
    name: inv.tenantName ?? "Unknown tenant",
    id: inv.tenantId,
    domains,
    matches: domains.filter((d) => admin !== "" && d.toLowerCase() === admin),
  };
}

// decisionText is what the console asks before each decision.
export function decisionText(decision: "confirm" | "refuse", r: TenantReview): string {
  return decision === "confirm"
    ? `Confirm that ${r.name} (${r.id}) is the customer's tenant? The customer is bound to it for good.`
    : `Refuse ${r.name} (${r.id})? The invitation fails and the account's credential is deleted; make a new link for the customer's own administrator.`;
}
