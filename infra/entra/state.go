package entra

import (
	"strings"
	"sync"
	"time"
)

// Lifetimes Microsoft documents for the artefacts of the interactive flows.
const (
	// authCodeLifetime: authorization codes are short lived, about ten
	// minutes.
	authCodeLifetime = 10 * time.Minute
	// deviceCodeLifetime is expires_in of the device authorization
	// response.
	deviceCodeLifetime = 15 * time.Minute
	// deviceCodeInterval is the polling interval it advertises, in seconds.
	deviceCodeInterval = 5
	// refreshInactivity: a refresh token unused for 90 days expires.
	refreshInactivity = 90 * 24 * time.Hour
	// interactionLifetime bounds how long a sign-in page stays usable.
	interactionLifetime = 30 * time.Minute
)

// session is a signed-in browser: the emulator's own cookie on its own
// host, as login.microsoftonline.com keeps one.
type session struct {
	userOID string
	mfa     bool // The user completed the MFA step in this session.
}

// flowKind says which protocol a sign-in page belongs to.
type flowKind int

const (
	flowAuthorize flowKind = iota
	flowDevice
	flowAdminConsent
)

// interaction is one sign-in in progress on the pages: what was asked for
// and where the answer goes. Pages carry only its random id.
type interaction struct {
	id      string
	kind    flowKind
	tenant  resolvedTenant
	client  App
	created time.Time

	// authorize and adminconsent
	redirectURI string
	state       string
	// authorize
	scopes        []string // Graph delegated scope names.
	oidcScopes    []string
	challenge     string
	method        string
	nonce         string
	loginHint     string
	forceConsent  bool
	legacyConsent bool // adminconsent without v2.0, which has no scope.
	scopeParam    string
	// resource is the application ID URI of the API the delegated scopes
	// belong to; empty means Microsoft Graph.
	resource string
	// responseMode is how the authorize answer travels back: query (the
	// default for code) or fragment, as MSAL.js asks.
	responseMode string

	// device
	deviceCode string

	userOID string // Set once someone signed in.
}

// authCode is an issued authorization code.
type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	method      string
	userOID     string
	tenantID    string
	scopes      []string
	oidcScopes  []string
	nonce       string
	issued      time.Time
	redeemed    bool
	resource    string // Empty means Microsoft Graph.
	// spa marks a code issued to a redirect URI registered as a
	// single-page app: it may be redeemed only cross-origin.
	spa bool
}

// deviceState is where a device code flow stands.
type deviceState int

const (
	devicePending deviceState = iota
	deviceApproved
	deviceDeclined
	deviceFailed
)

// deviceFlow is one device authorization request.
type deviceFlow struct {
	deviceCode string
	userCode   string
	tenant     resolvedTenant
	client     App
	scopes     []string
	oidcScopes []string
	issued     time.Time
	lastPoll   time.Time
	state      deviceState
	userOID    string
	tenantID   string   // The tenant the approving user signed in to.
	failure    aadError // Why a failed flow failed.
}

// refreshToken is an issued refresh token. Using one issues a new one (the
// old one stays valid, as Microsoft's do until they expire).
type refreshToken struct {
	clientID   string
	userOID    string
	tenantID   string
	scopes     []string
	oidcScopes []string
	issued     time.Time
	lastUsed   time.Time
	revoked    bool
	resource   string // Empty means Microsoft Graph.
	// spa marks a refresh token issued through a single-page app's
	// redirect URI: it expires at spaExpires, which its successors keep.
	spa        bool
	spaExpires time.Time
	// public marks a refresh token issued to a public client flow (no
	// client secret): redeeming it with a secret is AADSTS700025.
	public bool
}

// tenantPolicy is the tenant configuration the control API changes.
type tenantPolicy struct {
	// blockDeviceCode is a Conditional Access policy blocking the device
	// code flow (AADSTS53003).
	blockDeviceCode bool
	// slowDown answers slow_down to device code polls that come sooner than
	// the interval. Off by default: MSAL Go ignores interval.
	slowDown bool
}

// flowState is everything the flows remember. It is safe for concurrent
// use through its mutex.
type flowState struct {
	mu           sync.Mutex
	sessions     map[string]*session
	interactions map[string]*interaction
	codes        map[string]*authCode
	devices      map[string]*deviceFlow // by device code
	userCodes    map[string]string      // user code -> device code
	refresh      map[string]*refreshToken
	policies     map[string]*tenantPolicy // by tenant id
	faults       []*fault
	// idDefects are the defects waiting for users' next ID tokens, by
	// object id.
	idDefects map[string]IDTokenDefect
	// propagation is how long grants take to reach client credentials;
	// grants are those still on their way, by tenant and client.
	propagation       time.Duration
	tenantPropagation map[string]time.Duration
	grants            map[string]grantNote
}

func newFlowState() *flowState {
	return &flowState{
		sessions:     map[string]*session{},
		interactions: map[string]*interaction{},
		codes:        map[string]*authCode{},
		devices:      map[string]*deviceFlow{},
		userCodes:    map[string]string{},
		refresh:      map[string]*refreshToken{},
		policies:     map[string]*tenantPolicy{},
		idDefects:    map[string]IDTokenDefect{},
		grants:       map[string]grantNote{},

		tenantPropagation: map[string]time.Duration{},
	}
}

// policy returns the tenant's policy, creating it. Callers hold mu.
func (f *flowState) policyLocked(tenantID string) *tenantPolicy {
	key := strings.ToLower(tenantID)
	p, ok := f.policies[key]
	if !ok {
		p = &tenantPolicy{}
		f.policies[key] = p
	}
	return p
}

func (f *flowState) policy(tenantID string) tenantPolicy {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.policyLocked(tenantID)
}
