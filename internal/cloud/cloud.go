// Package cloud maps where Microsoft Graph is reached to the resource
// identifier Entra issues its tokens for. The national clouds run their own
// Graph under their own host (US Government, China), and Entra names Graph
// by that host there: a scope of https://graph.microsoft.com/.default, or
// an audience check against it, fails in every cloud but the global one.
package cloud

import (
	"fmt"
	"net/url"
	"strings"
)

// GlobalGraph is Microsoft Graph in the global cloud.
const GlobalGraph = "https://graph.microsoft.com"

// graphHosts are Graph's documented deployments: each host is its own
// resource identifier.
var graphHosts = map[string]string{
	"graph.microsoft.com":             "the global service",
	"graph.microsoft.us":              "US Government L4 (GCC High)",
	"dod-graph.microsoft.us":          "US Government L5 (DoD)",
	"microsoftgraph.chinacloudapi.cn": "China, operated by 21Vianet",
}

// GraphResource returns the resource identifier of the Graph reached at
// baseURL, for scopes ("<resource>/.default") and audience checks: the
// https origin of a documented Graph host, or of any other host (a local
// stand-in serves Graph under its own address). baseURL must be an https
// URL with no path beyond "/", no query and no credentials.
func GraphResource(baseURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(baseURL))
	switch {
	case err != nil:
		return "", fmt.Errorf("cloud: Graph base URL %q does not parse", baseURL)
	case u.Scheme != "https" || u.Host == "" || u.User != nil:
		return "", fmt.Errorf("cloud: Graph base URL %q is not an https origin", baseURL)
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return "", fmt.Errorf("cloud: Graph base URL %q has a path or query; give the host only (the service adds /v1.0)", baseURL)
	}
	host := strings.ToLower(u.Host)
	if _, known := graphHosts[strings.TrimSuffix(host, ":443")]; known {
		host = strings.TrimSuffix(host, ":443")
	}
	return "https://" + host, nil
}

// GraphCloud names the documented deployment of a Graph resource, or ""
// for a host Microsoft does not document (a local stand-in).
func GraphCloud(resource string) string {
	return graphHosts[strings.TrimPrefix(resource, "https://")]
}
