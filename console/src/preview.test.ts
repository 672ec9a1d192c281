import { describe, expect, it } from "vitest";
import cases from "./defang.cases.json";
import { defang, defangAround, formatExpiry, render, signed, type Values } from "./preview";

const values: Values = {
  operator: "Live Platform",
  customer: "Contoso",
  service: "OC Pro",
  link: "https://example/invite/x",
  expires: "Monday 7 December 2026, 10:00 UTC",
};

describe("the Welcome mail preview", () => {
  it("fills placeholders, with spaces around the name allowed", () => {
    expect(render("{{operator}}: approve for {{ customer }}\n{{link}}", values)).toEqual({
      ok: true,
      text: "Live Platform: approve for Contoso\nhttps://example/invite/x",
    });
  });
  it("never parses a value again", () => {
    expect(render("{{customer}}", { ...values, customer: "{{link}}" })).toEqual({ ok: true, text: "{{link}}" });
  });
  it("refuses what the API refuses, in its words", () => {
    expect(render("Hi {{name}}", values)).toEqual({
      ok: false,
      message: "Unknown placeholder {{name}}; use {{customer}}, {{service}}, {{link}}, {{expires}} or {{operator}}.",
    });
    expect(render("a }} b", values)).toEqual({ ok: false, message: "Unbalanced braces at character 3; placeholders are written like {{link}}." });
    expect(render("{{link", values).ok).toBe(false);
  });
  it("writes the expiry as the mails do", () => {
    expect(formatExpiry(new Date("2026-12-07T10:05:00Z"))).toBe("Monday 7 December 2026, 10:05 UTC");
  });
});

describe("the preview defangs operator text as the mail does", () => {
  it("follows the table the API is held to", () => {
    for (const c of cases.defang) expect(defang(c.input), c.input).toBe(c.output);
    for (const c of cases.around) expect(defangAround(c.input, c.link), c.input).toBe(c.output);
  });
  it("signs with the sender name as the last line, and not with blanks", () => {
    expect(signed("Text", "The Team")).toBe("Text\n\nThe Team");
    expect(signed("Text", "  ")).toBe("Text");
  });
});
