package config

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ocpro/upgrade/internal/mail"
	"github.com/ocpro/upgrade/internal/quota"
	"github.com/ocpro/upgrade/internal/upgrade"
)

// The variables template.yaml gives the functions, each with its one rule.
// README.md ("Configuration") says what each means to whoever deploys;
// template.yaml sets every one of them, from a parameter or a resource.
var (
	// Table is the DynamoDB table that holds every record.
	Table = required("TABLE_NAME")
	// PublicBaseURL is the base of the links in mails and of the public
	// pages, without a trailing slash so that paths can be appended.
	PublicBaseURL = define("PUBLIC_BASE_URL", true, func(s string) (string, error) {
		return strings.TrimRight(s, "/"), nil
	})
	// OperatorName is the operator's name in mails and pages.
	OperatorName = required("OPERATOR_NAME")
	// OperatorClaim is the JWT claim of a staff token that holds the
	// operator's id.
	OperatorClaim = required("OPERATOR_CLAIM")
	// LinkKeySecretARN is the Secrets Manager secret with the key that
	// derives invitation links.
	LinkKeySecretARN = required("LINK_KEY_SECRET_ARN")
	// InvitationTTL is how long a link stays valid: whole hours from 1 to
	// 720, upgrade.DefaultInvitationTTL when empty.
	InvitationTTL = define("INVITATION_TTL_HOURS", false, upgrade.ParseInvitationTTL)
	// Reminders are when reminders are due after the last mail: whole
	// hours, comma separated and increasing; empty means no reminders.
	Reminders = define("REMINDER_OFFSETS_HOURS", false, func(s string) (upgrade.ReminderPolicy, error) {
		offsets, err := upgrade.ParseReminderOffsets(s)
		return upgrade.ReminderPolicy{Offsets: offsets}, err
	})
	// SIPDomain is the domain the SIP connection FQDNs are built under.
	SIPDomain = required("SIP_DOMAIN")
	// SenderAddress is the verified SES identity the mails come from.
	SenderAddress = required("SENDER_ADDRESS")
	// SESConfigurationSet is the SES configuration set every mail is sent
	// with; it carries the delivery events.
	SESConfigurationSet = required("SES_CONFIGURATION_SET")
	// SupportAddress is the address mails offer for questions: one bare
	// address, or empty to offer none.
	SupportAddress = define("SUPPORT_ADDRESS", false, func(s string) (string, error) {
		if s == "" {
			return "", nil
		}
		if fe := mail.ValidateAddress("supportAddress", s); fe != nil {
			return "", errors.New(fe.Message)
		}
		return s, nil
	})
	// EntraAuthorityHost is the Microsoft identity platform's host.
	EntraAuthorityHost = required("ENTRA_AUTHORITY_HOST")
	// EntraClientID is the operator's multi-tenant Entra application.
	EntraClientID = required("ENTRA_CLIENT_ID")
	// EntraCredentialSecretARN is the Secrets Manager secret with the
	// application's credential.
	EntraCredentialSecretARN = required("ENTRA_CREDENTIAL_SECRET_ARN")
	// EntraRequiredRoles are the Graph application permissions a tenant's
	// admin consent must grant: comma separated, at least one.
	EntraRequiredRoles = define("ENTRA_REQUIRED_ROLES", true, func(s string) ([]string, error) {
		var roles []string
		for _, r := range strings.Split(s, ",") {
			if r = strings.TrimSpace(r); r != "" {
				roles = append(roles, r)
			}
		}
		if len(roles) == 0 {
			return nil, errors.New("want at least one permission, comma separated")
		}
		return roles, nil
	})
	// GraphBaseURL is where Microsoft Graph is reached.
	GraphBaseURL = required("GRAPH_BASE_URL")
	// OperatorRequests is each operator's share of the portal API:
	// requests per minute, a whole number from 1 to 100000; 600 when
	// empty. One operator's burst then cannot use up the stage's limits
	// for the others.
	OperatorRequests = define("OPERATOR_REQUESTS_PER_MINUTE", false, perWindow(time.Minute, 600))
	// TestMails is how many test mails one operator may ask for: per
	// hour, a whole number from 1 to 100000; 10 when empty.
	TestMails = define("TEST_MAILS_PER_HOUR", false, perWindow(time.Hour, 10))
	// SESMaxSendRate is the SES account's maximum send rate in mails per
	// second, which the sweep paces its mail requests below: a number from
	// 1 to 100000; 1 (a new account in the sandbox, which no account is
	// below) when empty.
	SESMaxSendRate = define("SES_MAX_SEND_RATE", false, func(s string) (float64, error) {
		if s == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 1 || r > 100000 || strings.TrimSpace(s) != s {
			return 0, errors.New("want mails per second, a number from 1 to 100000")
		}
		return r, nil
	})
	// TokenKeyID is the KMS key that seals the delegated tokens, device
	// codes and PKCE verifiers the service keeps.
	TokenKeyID = required("TOKEN_KMS_KEY_ID")
)

// Entra is how a function signs in as the operator's application and seals
// what it keeps of a tenant's sign-in.
type Entra struct {
	AuthorityHost       string
	ClientID            string
	CredentialSecretARN string
	RequiredRoles       []string
	TokenKeyID          string
}

// ReadEntra reads Entra's variables from r.
func ReadEntra(r *Reader) Entra {
	return Entra{
		AuthorityHost:       EntraAuthorityHost.Read(r),
		ClientID:            EntraClientID.Read(r),
		CredentialSecretARN: EntraCredentialSecretARN.Read(r),
		RequiredRoles:       EntraRequiredRoles.Read(r),
		TokenKeyID:          TokenKeyID.Read(r),
	}
}

// perWindow parses a whole number of uses per window, def when empty.
func perWindow(window time.Duration, def int) func(string) (quota.Rule, error) {
	return func(s string) (quota.Rule, error) {
		if s == "" {
			return quota.Rule{Limit: def, Window: window}, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 || strings.TrimSpace(s) != s || s[0] == '+' {
			return quota.Rule{}, errors.New("want a whole number from 1 to 100000")
		}
		return quota.Rule{Limit: n, Window: window}, nil
	}
}

// defined lists the name of every variable above.
var defined []string

// Names returns the name of every variable a function may read, sorted.
func Names() []string {
	names := slices.Clone(defined)
	slices.Sort(names)
	return names
}

func define[T any](name string, required bool, parse func(string) (T, error)) Var[T] {
	defined = append(defined, name)
	return Var[T]{Name: name, Required: required, parse: parse}
}

func required(name string) Var[string] {
	return define(name, true, func(s string) (string, error) { return s, nil })
}
