// Staff sign-in with Microsoft: MSAL.js, authorization code with PKCE, as
// a single-page app registered with the console's exact URL. Tokens live in
// sessionStorage (one tab's sign-in ends with the tab), are renewed before
// they expire, and when the refresh token is gone (a single-page app's
// lives 24 hours) the user signs in again and comes back to the same page.
import {
  CacheLookupPolicy,
  type AccountInfo,
  type AuthenticationResult,
  PublicClientApplication,
} from "@azure/msal-browser";
import { BASE } from "./router";
import { hasScope, needsInteraction, renewalDelay } from "./session";

export type Settings = { clientId: string; authority: string; scope: string };

export type Auth = {
  account: AccountInfo | null;
  /** scopeGranted is false when the sign-in did not grant the console's scope. */
  scopeGranted: boolean;
  signIn(): Promise<void>;
  signOut(): Promise<void>;
  token(): Promise<string>;
};

async function loadSettings(): Promise<Settings> {
  const resp = await fetch(BASE + "config.json", { cache: "no-store" });
  if (!resp.ok) throw new Error(`The console's settings could not be read (${resp.status}).`);
  return (await resp.json()) as Settings;
}

/** startAuth finishes a sign-in that is coming back and returns the session. */
export async function startAuth(): Promise<Auth> {
  const settings = await loadSettings();
  const redirectUri = location.origin + BASE;
  const msal = new PublicClientApplication({
    auth: {
      clientId: settings.clientId,
      authority: settings.authority,
      // The authority is the operator's own tenant on a known host: no
      // instance discovery against another host.
      knownAuthorities: [new URL(settings.authority).host],
      redirectUri,
      postLogoutRedirectUri: redirectUri,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await msal.initialize();
  const scopes = [settings.scope];
  let result: AuthenticationResult | null = await msal.handleRedirectPromise({ navigateToLoginRequestUrl: true });
  const account = result?.account ?? msal.getActiveAccount() ?? msal.getAllAccounts()[0] ?? null;
  if (account) msal.setActiveAccount(account);

  let renewal: ReturnType<typeof setTimeout> | undefined;
  const schedule = (r: AuthenticationResult) => {
    if (renewal) clearTimeout(renewal);
    if (!r.expiresOn) return;
    renewal = setTimeout(() => {
      void token(true).catch(() => undefined); // A failure shows on the next call.
    }, renewalDelay(r.expiresOn, new Date()));
  };

  const signInAgain = async (): Promise<never> => {
    // Back to this very page afterwards.
    await msal.acquireTokenRedirect({ scopes, redirectStartPage: location.href, ...(account ? { loginHint: account.username } : {}) });
    return new Promise<never>(() => undefined); // The page is leaving.
  };

  async function token(forceRefresh = false): Promise<string> {
    const active = msal.getActiveAccount();
    if (!active) return signInAgain();
    try {
      const r = await msal.acquireTokenSilent({
        scopes,
        account: active,
        forceRefresh,
        // Cache and refresh token only: no hidden iframe, which the
        // console's frame-ancestors 'none' would block anyway.
        cacheLookupPolicy: forceRefresh ? CacheLookupPolicy.RefreshToken : CacheLookupPolicy.AccessTokenAndRefreshToken,
      });
      schedule(r);
      return r.accessToken;
    } catch (err) {
      if (needsInteraction(err)) return signInAgain();
      throw err;
    }
  }

  let scopeGranted = true;
  if (account) {
    if (!result) {
      try {
        result = await msal.acquireTokenSilent({ scopes, account, cacheLookupPolicy: CacheLookupPolicy.AccessTokenAndRefreshToken });
      } catch (err) {
        if (needsInteraction(err)) await signInAgain();
        throw err;
      }
    }
    scopeGranted = hasScope(result.scopes, settings.scope);
    schedule(result);
  }

  return {
    account,
    scopeGranted,
    async signIn() {
      await msal.loginRedirect({ scopes, redirectStartPage: location.href });
    },
    async signOut() {
      await msal.logoutRedirect({ account: msal.getActiveAccount(), postLogoutRedirectUri: redirectUri });
    },
    token: () => token(false),
  };
}
