package entra

import (
	"net/http"
)

func (e *Emulator) discoveryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", e.logged(withCORS(e.handleOpenIDConfiguration)))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", e.logged(withCORS(e.handleKeys)))
}

// openIDConfiguration is the v2.0 discovery document with the fields and
// values Microsoft serves.
type openIDConfiguration struct {
	TokenEndpoint                     string   `json:"token_endpoint"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	Issuer                            string   `json:"issuer"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	HTTPLogoutSupported               bool     `json:"http_logout_supported"`
	FrontchannelLogoutSupported       bool     `json:"frontchannel_logout_supported"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	ClaimsSupported                   []string `json:"claims_supported"`
	KerberosEndpoint                  string   `json:"kerberos_endpoint"`
	TenantRegionScope                 *string  `json:"tenant_region_scope"`
	CloudInstanceName                 string   `json:"cloud_instance_name"`
	CloudGraphHostName                string   `json:"cloud_graph_host_name"`
	MSGraphHost                       string   `json:"msgraph_host"`
	RBACURL                           string   `json:"rbac_url"`
}

// tenantIDPlaceholder is the literal Microsoft puts in the issuer of the
// multi-tenant aliases: the real issuer depends on who signs in.
const tenantIDPlaceholder = "{tenantid}"

func (e *Emulator) handleOpenIDConfiguration(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	base := e.baseFor(r)
	authority := base + "/" + rt.pathID()
	issuerTenant := tenantIDPlaceholder
	var region *string
	if rt.tenant != nil {
		issuerTenant = rt.tenant.ID
		reg := rt.tenant.Region
		if reg == "" {
			reg = "NA"
		}
		region = &reg
	}
	doc := openIDConfiguration{
		TokenEndpoint:                     authority + "/oauth2/v2.0/token",
		TokenEndpointAuthMethodsSupported: []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		JWKSURI:                           authority + "/discovery/v2.0/keys",
		ResponseModesSupported:            []string{"query", "fragment", "form_post"},
		SubjectTypesSupported:             []string{"pairwise"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ResponseTypesSupported:            []string{"code", "id_token", "code id_token", "id_token token"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		Issuer:                            base + "/" + issuerTenant + "/v2.0",
		RequestURIParameterSupported:      false,
		UserinfoEndpoint:                  base + "/oidc/userinfo",
		AuthorizationEndpoint:             authority + "/oauth2/v2.0/authorize",
		DeviceAuthorizationEndpoint:       authority + "/oauth2/v2.0/devicecode",
		HTTPLogoutSupported:               true,
		FrontchannelLogoutSupported:       true,
		EndSessionEndpoint:                authority + "/oauth2/v2.0/logout",
		ClaimsSupported: []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		KerberosEndpoint:   authority + "/kerberos",
		TenantRegionScope:  region,
		CloudInstanceName:  "microsoftonline.com",
		CloudGraphHostName: "graph.windows.net",
		MSGraphHost:        "graph.microsoft.com",
		RBACURL:            "https://pas.windows.net",
	}
	// Microsoft lets browsers fetch discovery and keys from any origin and
	// lets clients cache them for a day.
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, doc)
}

// jwks is the key set document.
type jwks struct {
	Keys []jwk `json:"keys"`
}

func (e *Emulator) handleKeys(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.resolve(w, r)
	if !ok {
		return
	}
	issuerTenant := tenantIDPlaceholder
	if rt.tenant != nil {
		issuerTenant = rt.tenant.ID
	}
	issuer := e.baseFor(r) + "/" + issuerTenant + "/v2.0"
	// The current key first: it is the one new tokens are signed with; the
	// previous one stays published so that tokens it signed keep working
	// through a rollover.
	set := jwks{Keys: []jwk{e.current.jwk(issuer), e.previous.jwk(issuer)}}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Cache-Control", "max-age=86400, private")
	writeJSON(w, http.StatusOK, set)
}
