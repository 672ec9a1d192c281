import { describe, expect, it } from "vitest";
import type { components } from "./api/schema";
import { decisionText, reviewOf } from "./tenant";

type Invitation = components["schemas"]["Invitation"];

const base: Invitation = {
  id: "inv1",
  tokenId: "TOKEN1",
  status: "AWAITING_CONFIRMATION",
  customerId: "c1",
  upgradeId: "u1",
  serviceId: "s1",
  emailSent: true,
  remindersSent: 0,
  createdAt: "2026-12-01T09:00:00Z",
  expiresAt: "2026-12-08T09:00:00Z",
  adminEmail: "it@Contoso.example",
  tenantId: "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38",
  tenantName: "Fabrikam",
  tenantDomains: ["fabrikam.onmicrosoft.com", "fabrikam.example"],
};

describe("staff's review of an unconfirmed tenant", () => {
  it("shows the tenant's name, id and verified domains", () => {
    expect(reviewOf(base)).toEqual({
      name: "Fabrikam",
      id: "9a4c7e21-3f6b-4d8e-a1c5-7b2e0d9f6c38",
      domains: ["fabrikam.onmicrosoft.com", "fabrikam.example"],
      matches: [],
    });
  });
  it("points out a verified domain that is the administrator's", () => {
    expect(reviewOf({ ...base, tenantDomains: ["contoso.example"] })?.matches).toEqual(["contoso.example"]);
  });
  it("offers no decision for an invitation that waits for none", () => {
    expect(reviewOf({ ...base, status: "AUTHENTICATION_COMPLETE" })).toBeNull();
    expect(reviewOf({ ...base, tenantId: undefined })).toBeNull();
  });
  it("says what each decision does", () => {
    const r = reviewOf(base)!;
    expect(decisionText("confirm", r)).toContain("bound to it for good");
    expect(decisionText("refuse", r)).toContain("credential is deleted");
  });
});
