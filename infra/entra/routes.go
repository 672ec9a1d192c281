package entra

import (
	"net/http"
	"strings"
	"time"
)

// routes builds the mux. Each protocol area registers its own routes in its
// own file, so that the next area (authorize, devicecode, Graph) is one file
// and one line here.
//
// Graph lives under /v1.0/ on the same host, in a mux of its own: its
// paths would otherwise collide with the identity platform's /{tenant}/…
// patterns.
func (e *Emulator) routes() http.Handler {
	graph := http.NewServeMux()
	e.graphRoutes(graph)
	mux := http.NewServeMux()
	e.discoveryRoutes(mux)
	e.tokenRoutes(mux)
	e.deviceCodeRoutes(mux)
	e.authorizeRoutes(mux)
	e.signInRoutes(mux)
	e.controlRoutes(mux)
	e.signOutRoutes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			graph.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Handler-wide concerns stay out of the protocol files: logging here never
// includes the query or the body, which carry codes and secrets.
func (e *Emulator) logged(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // Wall time, not the configurable token clock.
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h(rec, r)
		e.log.DebugContext(r.Context(), "entra emulator request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start))
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// resolvedTenant is what the {tenant} path segment named.
type resolvedTenant struct {
	segment string
	kind    tenantKind
	tenant  *Tenant // nil for common and organizations.
}

// pathID is the tenant as it appears in endpoint URLs: the tenant id for a
// tenant named by id or domain (Microsoft resolves domains), the alias
// otherwise.
func (rt resolvedTenant) pathID() string {
	if rt.tenant != nil {
		return rt.tenant.ID
	}
	return strings.ToLower(rt.segment)
}

// resolve reads the {tenant} path value, writing Microsoft's error for an
// unknown or malformed tenant.
func (e *Emulator) resolve(w http.ResponseWriter, r *http.Request) (resolvedTenant, bool) {
	seg := r.PathValue("tenant")
	t, kind, err := e.dir.resolveTenant(seg)
	if err != nil {
		if kind == tenantByDomain && !strings.Contains(seg, ".") {
			e.writeAADError(w, r, errTenantIdentifier(seg))
		} else {
			e.writeAADError(w, r, errTenantNotFound(seg))
		}
		return resolvedTenant{}, false
	}
	return resolvedTenant{segment: seg, kind: kind, tenant: t}, true
}
