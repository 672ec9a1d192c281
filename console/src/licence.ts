// Licences and what they grant (the guide's OC Essentials, OC Essentials
// Plus and OC Pro), and which upgrades a customer can take.
import type { components } from "./api/schema";

export type License = components["schemas"]["License"];
export type TargetLicense = components["schemas"]["TargetLicense"];

export const licenceNames: Record<License, string> = {
  OC_ESSENTIALS: "OC Essentials",
  OC_ESSENTIALS_PLUS: "OC Essentials Plus",
  OC_PRO: "OC Pro",
};

const rank: Record<License, number> = { OC_ESSENTIALS: 0, OC_ESSENTIALS_PLUS: 1, OC_PRO: 2 };

/** upgradesFor lists the licences a customer holding current can upgrade to: never the same, never lower. */
export function upgradesFor(current: License): TargetLicense[] {
  const targets: TargetLicense[] = ["OC_ESSENTIALS_PLUS", "OC_PRO"];
  return targets.filter((t) => rank[t] > rank[current]);
}

/** actionFor is the Tenants page's word for the upgrade: a lead converts, a customer upgrades (guide step 1). */
export function actionFor(kind: "LEAD" | "CUSTOMER"): string {
  return kind === "LEAD" ? "Convert to OC Pro" : "Upgrade Customer";
}
