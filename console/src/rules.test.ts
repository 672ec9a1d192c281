import { describe, expect, it } from "vitest";
import cases from "./rules.cases.json";
import { roomLeft, validateAdminEmail, validateFullName, validateShortName, validateUsers } from "./rules";

// The same table is checked against the API's validators by
// console/rules_test.go, so the console and the API say the same thing.
describe("short name, as the API checks it (guide step 3)", () => {
  for (const c of cases.shortName) {
    it(JSON.stringify(c.input), () => {
      const got = validateShortName(c.input);
      expect(got?.code ?? "").toBe(c.code);
      expect(got?.message ?? "").toBe(c.message);
    });
  }
});

describe("full name (guide step 2)", () => {
  for (const c of cases.fullName) {
    it(JSON.stringify(c.input), () => {
      const got = validateFullName(c.input);
      expect(got?.code ?? "").toBe(c.code);
      expect(got?.message ?? "").toBe(c.message);
    });
  }
  it("counts characters, not UTF-16 units", () => {
    expect(validateFullName("é".repeat(128))).toBeNull();
    expect(validateFullName("😀".repeat(128))).toBeNull();
    expect(validateFullName("é".repeat(129))?.code).toBe("too_long");
  });
});

describe("licensed users (guide step 5: at most 500 per customer)", () => {
  it("leaves the room under the limit", () => {
    expect(roomLeft(0)).toBe(500);
    expect(roomLeft(480)).toBe(20);
    expect(roomLeft(600)).toBe(0);
  });
  it("refuses what is not a whole number from 1 to 500", () => {
    for (const raw of ["", "0", "501", "2.5", "ten", "-1"]) {
      expect(validateUsers(raw, 0)?.code, raw).toBe("out_of_range");
    }
    expect(validateUsers("500", 0)).toBeNull();
  });
  it("refuses more than the customer has left, in the API's words", () => {
    expect(validateUsers("21", 480)).toEqual({
      code: "customer_limit_exceeded",
      message: "The customer already has 480 licensed users; at most 20 more can be added.",
    });
    expect(validateUsers("20", 480)).toBeNull();
  });
});

describe("administrator address (guide step 6)", () => {
  it("asks for one bare address", () => {
    expect(validateAdminEmail("")?.code).toBe("required");
    expect(validateAdminEmail("Admin <admin@contoso.example>")?.code).toBe("invalid_email");
    expect(validateAdminEmail("admin@contoso")?.message).toBe("The email address needs a domain such as contoso.com.");
    expect(validateAdminEmail("admin@contoso.example")).toBeNull();
  });
});
