// Package graph reads what the service needs from Microsoft Graph's side
// of a tenant: the claims of access tokens issued for Graph, and Graph's
// organization resource, which proves which tenant a token opens.
//
// Tokens for Graph are v1.0 tokens (iss https://sts.windows.net/{tid}/,
// ver 1.0, appid rather than azp) whose header carries a nonce: their
// signature covers the nonce's hash, not the nonce as sent, so only Graph
// can check it, and Microsoft says a client must not try. The service
// reads their claims only from tokens it received itself, over TLS, from
// the authority it asked, and proves the tenant by asking Graph with the
// token: GET /v1.0/organization must answer the token's tid.
package graph

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AppID is Microsoft Graph's application id, the other form its tokens'
// aud takes.
const AppID = "00000003-0000-0000-c000-000000000000"

// Claims are what the service reads of a token issued for Graph.
type Claims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
	// AppID is the client the token was issued to: appid in v1.0 tokens,
	// azp in v2.0 ones.
	AppID string `json:"appid"`
	AZP   string `json:"azp"`
	// Version is "1.0" for Graph's tokens.
	Version string `json:"ver"`
	jwt.RegisteredClaims
}

// ReadToken reads the claims of a Graph access token the caller received
// from the token endpoint itself for tenantID, without checking its
// signature (see the package comment). It refuses a token that is not for
// Graph (resource, the cloud's Graph as internal/cloud names it, or Graph's
// application id), not for the tenant, not from that tenant's issuer (v1.0 or, on
// the authority host, v2.0) or expired at now: those are answers to
// another question than the one asked.
func ReadToken(raw, tenantID, authorityHost, resource string, now time.Time) (Claims, error) {
	var c Claims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		return Claims{}, fmt.Errorf("graph token: %w", err)
	}
	if !strings.EqualFold(c.TenantID, tenantID) {
		return Claims{}, errors.New("graph token: issued for another tenant")
	}
	if c.Issuer != "https://sts.windows.net/"+c.TenantID+"/" && c.Issuer != strings.TrimRight(authorityHost, "/")+"/"+c.TenantID+"/v2.0" {
		return Claims{}, errors.New("graph token: issuer is not the tenant's")
	}
	if c.ExpiresAt == nil || !now.Before(c.ExpiresAt.Time) {
		return Claims{}, errors.New("graph token: expired")
	}
	aud, _ := c.GetAudience()
	for _, a := range aud {
		if a == resource || a == resource+"/" || a == AppID {
			if c.AppID == "" {
				c.AppID = c.AZP
			}
			return c, nil
		}
	}
	return Claims{}, errors.New("graph token: not for Microsoft Graph")
}

// Domain is one of a tenant's verified domains.
type Domain struct {
	Name      string `json:"name"`
	IsDefault bool   `json:"isDefault"`
	IsInitial bool   `json:"isInitial"`
}

// Organization is the part of Graph's organization resource the service
// reads: the tenant's id, name and verified domains.
type Organization struct {
	ID              string   `json:"id"`
	DisplayName     string   `json:"displayName"`
	VerifiedDomains []Domain `json:"verifiedDomains"`
}

// DefaultDomain is the tenant's default verified domain, "" when Graph
// named none.
func (o Organization) DefaultDomain() string {
	for _, d := range o.VerifiedDomains {
		if d.IsDefault {
			return d.Name
		}
	}
	return ""
}

// HasDomain reports whether name is one of the tenant's verified domains,
// compared as DNS compares names.
func (o Organization) HasDomain(name string) bool {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if name == "" {
		return false
	}
	for _, d := range o.VerifiedDomains {
		if strings.TrimSuffix(strings.ToLower(d.Name), ".") == name {
			return true
		}
	}
	return false
}

// ParseOrganization reads the answer to GET /v1.0/organization made with
// an application or delegated token: exactly one organization, which must
// be tenantID. Any other answer proves nothing about the tenant.
func ParseOrganization(body []byte, tenantID string) (Organization, error) {
	var list struct {
		Value []Organization `json:"value"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Value) != 1 {
		return Organization{}, errors.New("graph organization: not exactly one organization")
	}
	o := list.Value[0]
	if !strings.EqualFold(o.ID, tenantID) {
		return Organization{}, ErrOtherOrganization
	}
	return o, nil
}

// ErrOtherOrganization means Graph answered for another tenant than the
// token's.
var ErrOtherOrganization = errors.New("graph organization: another tenant")
