// The console's frame: the header with the signed-in staff member, the
// navigation, and the page the path names.
import { createContext } from "preact";
import { useContext, useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Auth } from "./auth";
import { newClient, type Client } from "./api/client";
import { href, onLinkClick, useRoute } from "./router";
import { TenantsPage, CustomerPage } from "./pages/tenants";
import { WizardPage } from "./pages/wizard";
import { InvitationsPage } from "./pages/invitations";
import { PendingPage } from "./pages/pending";
import { ServicesPage, ServicePage } from "./pages/services";
import { M365Page } from "./pages/m365";
import { EmailSettingsPage } from "./pages/settings";

export const ApiContext = createContext<Client | null>(null);

/** useApi is the typed API client of the signed-in staff member. */
export function useApi(): Client {
  const c = useContext(ApiContext);
  if (!c) throw new Error("no API client");
  return c;
}

const nav = [
  ["tenants", "Tenants"],
  ["pending", "Pending Invitations"],
  ["invitations", "Customer Invitations"],
  ["services", "Services"],
  ["settings", "Email settings"],
] as const;

const titles: Record<string, string> = {
  tenants: "Tenants",
  customers: "Customer",
  wizard: "Onboarding wizard",
  pending: "Pending Invitations",
  invitations: "Customer Invitations",
  services: "Services",
  m365: "M365 Settings",
  settings: "Email settings",
};

export function App(props: { auth: Auth }) {
  const [forbidden, setForbidden] = useState(!props.auth.scopeGranted);
  const api = useMemo(() => newClient(props.auth.token, () => setForbidden(true)), [props.auth]);
  const route = useRoute();
  const main = useRef<HTMLElement>(null);
  useEffect(() => {
    document.title = `${titles[route.page] ?? "Not found"} · Operator console`;
    main.current?.focus();
  }, [route.page, route.id]);

  return (
    <div class="shell" onClick={onLinkClick}>
      <a class="skip" href="#main">Skip to the page</a>
      <header class="top">
        <span class="brand">Operator console</span>
        <span class="who">
          Signed in as <strong>{props.auth.account?.username}</strong>
        </span>
        <button type="button" class="secondary" onClick={() => void props.auth.signOut()}>
          Sign out
        </button>
      </header>
      <nav aria-label="Console">
        <ul>
          {nav.map(([page, label]) => (
            <li key={page}>
              <a href={href(page)} aria-current={route.page === page ? "page" : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        {forbidden ? (
          <ScopeMissing auth={props.auth} />
        ) : (
          <ApiContext.Provider value={api}>
            <Page page={route.page} id={route.id} params={route.params} />
          </ApiContext.Provider>
        )}
      </main>
    </div>
  );
}

function Page(props: { page: string; id: string; params: URLSearchParams }) {
  switch (props.page) {
    case "tenants":
      return <TenantsPage />;
    case "customers":
      return <CustomerPage id={props.id} />;
    case "wizard":
      return <WizardPage customerId={props.id} resume={props.params.get("resume") ?? ""} />;
    case "pending":
      return <PendingPage />;
    case "invitations":
      return <InvitationsPage token={props.params.get("token") ?? ""} />;
    case "services":
      return props.id ? <ServicePage id={props.id} tab={props.params.get("tab") ?? "details"} /> : <ServicesPage />;
    case "m365":
      return <M365Page customerId={props.id} />;
    case "settings":
      return <EmailSettingsPage />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            There is no such page. <a href={href("tenants")}>Go to Tenants</a>.
          </p>
        </>
      );
  }
}

/** ScopeMissing is what an account the API refuses with 403 sees: no Upgrades.Manage scope, or no operator. */
function ScopeMissing(props: { auth: Auth }) {
  return (
    <section id="scope-missing">
      <h1>Your account may not use the console</h1>
      <p>
        You are signed in as <strong>{props.auth.account?.username}</strong>, but the service refuses this sign-in: either Microsoft did not
        give it the permission the console needs (<code>Upgrades.Manage</code> of the portal API), or the account is not set up as staff of
        an operator (its token names no operator).
      </p>
      <p>Ask an administrator of your organisation's Microsoft Entra tenant to grant you access to the portal, then sign in again.</p>
      <button type="button" onClick={() => void props.auth.signOut()}>
        Sign out
      </button>
    </section>
  );
}

export function SignInPage(props: { auth: Auth }) {
  return (
    <main id="main" class="signin">
      <h1>Operator console</h1>
      <p>Upgrade customers to OC Essentials Plus or OC Pro, follow their invitations, and validate their Microsoft 365 access.</p>
      <button type="button" id="signin" onClick={() => void props.auth.signIn()}>
        Sign in with Microsoft
      </button>
    </main>
  );
}

export function StartFailed(props: { error: unknown }) {
  const message = props.error instanceof Error ? props.error.message : String(props.error);
  return (
    <main id="main" class="signin">
      <h1>The console could not start</h1>
      <p role="alert">{message}</p>
      <p>
        <a href="/console/">Try again</a>
      </p>
    </main>
  );
}
