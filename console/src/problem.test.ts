import { describe, expect, it } from "vitest";
import { retryAfterSeconds, summary, tenantAdvice, toFailure, waitMessage } from "./problem";

describe("problem documents", () => {
  it("puts each field's message at its field, the first one winning", () => {
    const f = toFailure(409, new Headers(), {
      type: "https://errors.ocpro.example/conflict",
      title: "Conflict",
      status: 409,
      detail: "The short name is taken.",
      errors: [
        { field: "serviceShortName", code: "taken", message: "Another service already uses this short name; short names are unique, whatever their case." },
        { field: "serviceShortName", code: "other", message: "ignored" },
      ],
    });
    expect(f.fields).toEqual({ serviceShortName: "Another service already uses this short name; short names are unique, whatever their case." });
    expect(f.code).toBe("taken");
    expect(summary(f)).toBe("Conflict The short name is taken.");
  });
  it("reads API Gateway's own answers and bodies that are not JSON", () => {
    expect(toFailure(403, new Headers(), { message: "Forbidden" }).title).toBe("Forbidden");
    expect(toFailure(502, new Headers(), "<html>").title).toBe("The request failed (502).");
  });
  it("says how long to wait after a 429", () => {
    const f = toFailure(429, new Headers({ "Retry-After": "42" }), { title: "Too many requests", status: 429 });
    expect(f.retryAfter).toBe(42);
    expect(summary(f)).toBe("Too many requests Wait 42 seconds before trying again.");
    expect(waitMessage(1)).toBe("Wait 1 second before trying again.");
  });
});

describe("Retry-After", () => {
  it("takes seconds or an HTTP date", () => {
    expect(retryAfterSeconds("7")).toBe(7);
    const now = new Date("2026-12-01T10:00:00Z");
    expect(retryAfterSeconds("Tue, 01 Dec 2026 10:00:30 GMT", now)).toBe(30);
    expect(retryAfterSeconds(null)).toBeUndefined();
    expect(retryAfterSeconds("soon")).toBeUndefined();
  });
});

describe("advice on a failed tenant validation", () => {
  it("tells the operator what to do", () => {
    expect(tenantAdvice("consent_revoked", false)).toMatch(/Re-initiate Authentication Flow/);
    expect(tenantAdvice("secret_expired", false)).toMatch(/operator's own application credential/);
    expect(tenantAdvice("consent_revoked", true)).toMatch(/Try again/);
  });
});
