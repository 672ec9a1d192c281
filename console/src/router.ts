// The console's pages are paths under /console/; links change the path
// with the History API, and a reload or a copied link opens the same page
// (the server answers every such path with index.html).
import { useEffect, useState } from "preact/hooks";

export const BASE = "/console/";

export type Route = { page: string; id: string; params: URLSearchParams };

/** parseRoute reads the page and id from a location under BASE. */
export function parseRoute(pathname: string, search: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : "";
  const [page = "", id = ""] = rest.split("/").filter((p) => p !== "").map(decodeURIComponent);
  return { page: page || "tenants", id, params: new URLSearchParams(search) };
}

/** href builds the path of a page. */
export function href(page: string, id?: string, params?: Record<string, string>): string {
  let p = BASE + page + (id ? "/" + encodeURIComponent(id) : "");
  if (params && Object.keys(params).length > 0) p += "?" + new URLSearchParams(params).toString();
  return p;
}

const listeners = new Set<() => void>();

/** navigate opens a page of the console without reloading it. */
export function navigate(to: string): void {
  history.pushState(null, "", to);
  listeners.forEach((l) => l());
}

/** useRoute is the current page, following links and the back button. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname, location.search));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname, location.search));
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return route;
}

/** onLinkClick lets plain links navigate inside the console. */
export function onLinkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a || a.target || !a.getAttribute("href")?.startsWith(BASE)) return;
  e.preventDefault();
  navigate(a.getAttribute("href") ?? BASE);
}
