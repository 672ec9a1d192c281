// Small building blocks every page uses: labelled fields with their error,
// the message at the top of a page, status words, loading of data.
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { failureOf } from "./api/client";
import { summary, type Failure } from "./problem";

/** Field is a labelled control with its hint and its error, linked for screen readers. */
export function Field(props: { id: string; label: string; hint?: string | undefined; error?: string | undefined; children: (describedBy: string) => JSX.Element }) {
  const describedBy = [props.hint ? props.id + "-hint" : "", props.error ? props.id + "-error" : ""].filter(Boolean).join(" ");
  return (
    <div class={"field" + (props.error ? " invalid" : "")}>
      <label for={props.id}>{props.label}</label>
      {props.hint && <p class="hint" id={props.id + "-hint"}>{props.hint}</p>}
      {props.children(describedBy)}
      {props.error && (
        <p class="error" id={props.id + "-error"}>
          <span aria-hidden="true">✖ </span>Error: {props.error}
        </p>
      )}
    </div>
  );
}

/** Notice is the message at the top of a page: role alert for failures, status for news. */
export function Notice(props: { kind: "ok" | "error" | "info"; children: ComponentChildren; id?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => ref.current?.focus(), [props.children]);
  const label = props.kind === "ok" ? "Done" : props.kind === "error" ? "Problem" : "Note";
  return (
    <div ref={ref} id={props.id} class={"notice " + props.kind} role={props.kind === "error" ? "alert" : "status"} tabIndex={-1}>
      <strong>{label}: </strong>
      {props.children}
    </div>
  );
}

export function FailureNotice(props: { failure: Failure | null }) {
  if (!props.failure) return null;
  return <Notice kind="error">{summary(props.failure)}</Notice>;
}

const statusWords: Record<string, string> = {
  PENDING: "Pending",
  IN_PROGRESS: "In progress",
  TOKEN_ACQUIRED: "Token acquired",
  AUTHENTICATION_COMPLETE: "Authentication Complete",
  AWAITING_CONFIRMATION: "Tenant to confirm",
  EXPIRED: "Expired",
  REVOKED: "Revoked",
  FAILED: "Failed",
  PENDING_AUTHENTICATION: "Pending authentication",
  READY_TO_RESUME: "Ready to resume",
  COMPLETED: "Completed",
  CANCELLED: "Cancelled",
  ACTIVE: "ACTIVE",
  WORKING: "WORKING",
  DEGRADED: "DEGRADED",
  STOPPED: "STOPPED",
  UNKNOWN: "Not checked yet",
};

const good = new Set(["AUTHENTICATION_COMPLETE", "COMPLETED", "ACTIVE", "WORKING", "READY_TO_RESUME"]);
const bad = new Set(["EXPIRED", "REVOKED", "FAILED", "CANCELLED", "STOPPED"]);

/** Status shows a state in words, with an icon; colour only repeats what the words say. */
export function Status(props: { value: string | undefined }) {
  const v = props.value ?? "UNKNOWN";
  const tone = good.has(v) ? "good" : bad.has(v) ? "bad" : v === "DEGRADED" ? "warn" : "neutral";
  const icon = tone === "good" ? "✔" : tone === "bad" ? "✖" : tone === "warn" ? "⚠" : "…";
  return (
    <span class={"status " + tone}>
      <span aria-hidden="true">{icon} </span>
      {statusWords[v] ?? v}
    </span>
  );
}

export function YesNo(props: { value: boolean | undefined }) {
  return <span class={"status " + (props.value ? "good" : "neutral")}>{props.value ? "true" : "false"}</span>;
}

export function when(t: string | undefined): string {
  if (!t) return "—";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC").replace(/Z$/, " UTC");
}

/** useLoad runs load on mount (and when deps change) and on reload(). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [failure, setFailure] = useState<Failure | null>(null);
  const [loading, setLoading] = useState(true);
  const reload = useCallback(async () => {
    setLoading(true);
    try {
      setData(await load());
      setFailure(null);
    } catch (err) {
      setFailure(failureOf(err));
    } finally {
      setLoading(false);
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, failure, loading, reload, setData };
}

/** Table wraps a table so that it scrolls on a narrow screen and can be reached by keyboard. */
export function Table(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      <table>
        <caption class="visually-hidden">{props.label}</caption>
        {props.children}
      </table>
    </div>
  );
}
