import { describe, expect, it } from "vitest";
import { actionFor, upgradesFor } from "./licence";

describe("upgrades a customer can take (guide step 4)", () => {
  it("never offers the same licence or a lower one", () => {
    expect(upgradesFor("OC_ESSENTIALS")).toEqual(["OC_ESSENTIALS_PLUS", "OC_PRO"]);
    expect(upgradesFor("OC_ESSENTIALS_PLUS")).toEqual(["OC_PRO"]);
    expect(upgradesFor("OC_PRO")).toEqual([]);
  });
  it("names the action as the guide does", () => {
    expect(actionFor("LEAD")).toBe("Convert to OC Pro");
    expect(actionFor("CUSTOMER")).toBe("Upgrade Customer");
  });
});
