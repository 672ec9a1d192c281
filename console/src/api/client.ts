// The typed client of the /v1 API, generated from openapi.yaml: a route or
// field the API changes and the console does not follow fails the build.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";
import { toFailure, type Failure } from "../problem";

export type Client = ReturnType<typeof createClient<paths>>;

/** ApiError carries a refused answer, read for the page. */
export class ApiError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.title);
  }
}

/** newClient calls the API at this origin with the staff member's token. */
export function newClient(token: () => Promise<string>, onForbidden: () => void): Client {
  const client = createClient<paths>({ baseUrl: location.origin });
  const auth: Middleware = {
    async onRequest({ request }) {
      request.headers.set("Authorization", "Bearer " + (await token()));
      return request;
    },
    onResponse({ response }) {
      if (response.status === 403) onForbidden();
      return response;
    },
  };
  client.use(auth);
  return client;
}

/** must returns the data of an answer, or throws its failure for the page. */
export function must<T>(r: { data?: T; error?: unknown; response: Response }): T {
  if (r.data !== undefined && r.response.ok) return r.data;
  throw new ApiError(toFailure(r.response.status, r.response.headers, r.error));
}

/** failureOf reads any error as a failure a page can show. */
export function failureOf(err: unknown): Failure {
  if (err instanceof ApiError) return err.failure;
  const message = err instanceof Error ? err.message : String(err);
  return { status: 0, title: "The console could not reach the service.", detail: message, fields: {} };
}
