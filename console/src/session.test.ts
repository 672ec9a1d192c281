import { describe, expect, it } from "vitest";
import { hasScope, needsInteraction, renewalDelay, Submission } from "./session";

describe("token renewal", () => {
  it("renews five minutes before expiry, at once when that has passed", () => {
    const now = new Date("2026-12-01T10:00:00Z");
    expect(renewalDelay(new Date("2026-12-01T11:00:00Z"), now)).toBe(55 * 60 * 1000);
    expect(renewalDelay(new Date("2026-12-01T10:03:00Z"), now)).toBe(0);
  });
});

describe("the console's scope", () => {
  it("is found by full name or short name", () => {
    expect(hasScope(["api://ocpro-portal/Upgrades.Manage", "openid"], "api://ocpro-portal/Upgrades.Manage")).toBe(true);
    expect(hasScope(["Upgrades.Manage"], "api://ocpro-portal/Upgrades.Manage")).toBe(true);
    expect(hasScope(["openid", "profile"], "api://ocpro-portal/Upgrades.Manage")).toBe(false);
  });
});

describe("signing in again", () => {
  it("is needed when the refresh token expired or is missing", () => {
    expect(needsInteraction({ name: "InteractionRequiredAuthError" })).toBe(true);
    expect(needsInteraction({ errorCode: "invalid_grant" })).toBe(true);
    expect(needsInteraction({ errorCode: "server_error", errorMessage: "AADSTS700084: The refresh token was issued to a single page app" })).toBe(true);
    expect(needsInteraction({ errorCode: "network_error" })).toBe(false);
    expect(needsInteraction("boom")).toBe(false);
  });
});

describe("one Idempotency-Key per intended change", () => {
  it("keeps the key for the same input and changes it for other input", () => {
    const s = new Submission();
    const a = s.keyFor({ users: 10 });
    expect(s.keyFor({ users: 10 })).toBe(a);
    const b = s.keyFor({ users: 11 });
    expect(b).not.toBe(a);
    s.done();
    expect(s.keyFor({ users: 11 })).not.toBe(b);
  });
});
