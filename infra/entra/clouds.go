package entra

import "strings"

// Microsoft Graph answers under the emulator's own address, as each
// national cloud's Graph answers under its own host (graph.microsoft.us,
// microsoftgraph.chinacloudapi.cn) and Entra there issues Graph tokens
// for that host. So the emulator's base URL names Graph too: a client that
// derives Graph's resource identifier from the address it reaches Graph
// at, as it must for the national clouds, gets tokens here as well.

// graphAlias returns GraphResource when id is the emulator's base URL,
// and id otherwise.
func (e *Emulator) graphAlias(id string) string {
	if base := e.BaseURL(); base != "" && strings.EqualFold(strings.TrimSuffix(id, "/"), base) {
		return GraphResource
	}
	return id
}

// isGraphAudience reports whether aud names Microsoft Graph: its
// application ID URI, its application id, or the emulator's base URL.
func (e *Emulator) isGraphAudience(aud string) bool {
	aud = strings.TrimSuffix(e.graphAlias(aud), "/")
	return aud == GraphResource || aud == GraphAppID
}

// graphScopes rewrites the scopes of a delegated request that name Graph
// by the emulator's base URL ("<base>/User.Read") to Graph's application
// ID URI, which the rest of the delegated flows know.
func (e *Emulator) graphScopes(scope string) string {
	base := e.BaseURL()
	if base == "" {
		return scope
	}
	fields := strings.Fields(scope)
	for i, f := range fields {
		if j := strings.LastIndex(f, "/"); j > 0 && strings.EqualFold(f[:j], base) {
			fields[i] = GraphResource + f[j:]
		}
	}
	return strings.Join(fields, " ")
}
