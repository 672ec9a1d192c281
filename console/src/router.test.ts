import { describe, expect, it } from "vitest";
import { href, parseRoute } from "./router";

describe("console paths", () => {
  it("opens Tenants by default and reads page, id and query", () => {
    expect(parseRoute("/console/", "").page).toBe("tenants");
    const r = parseRoute("/console/services/svc%201", "?tab=sip");
    expect([r.page, r.id, r.params.get("tab")]).toEqual(["services", "svc 1", "sip"]);
  });
  it("builds paths that parse back", () => {
    const p = href("wizard", "c1", { resume: "u1" });
    const [path, query] = p.split("?");
    const r = parseRoute(path ?? "", "?" + (query ?? ""));
    expect([r.page, r.id, r.params.get("resume")]).toEqual(["wizard", "c1", "u1"]);
  });
});
