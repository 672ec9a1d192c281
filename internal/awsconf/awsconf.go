// Package awsconf builds the AWS SDK configuration of a Lambda function from
// the environment Lambda gives it.
//
// config.LoadDefaultConfig is written for every kind of host: it reads the
// shared config and credentials files and links SSO, STS, the instance
// metadata client and their parsers. A function on Lambda needs none of
// that: its region and its role's credentials are environment variables. The
// package keeps what the functions rely on — region, credentials, the
// standard endpoint variables (AWS_ENDPOINT_URL_<SERVICE>, which the local
// stack sets, and AWS_ENDPOINT_URL for every service), AWS_MAX_ATTEMPTS and
// AWS_RESPONSE_CHECKSUM_VALIDATION — and nothing else, which makes the binaries smaller and their cold starts shorter
// (make bench measures both).
package awsconf

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// FromEnv returns the configuration described by getenv (os.Getenv in
// main). It fails when the region or the credentials are missing, so that a
// function with a broken environment stops at init, not on its first call.
func FromEnv(getenv func(string) string) (aws.Config, error) {
	region := getenv("AWS_REGION")
	if region == "" {
		return aws.Config{}, errors.New("AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the function's role)")
	}
	cfg := aws.Config{
		Region: region,
		// Lambda's credentials are valid for the life of the execution
		// environment, so a static provider is what the default chain would
		// end up with too.
		Credentials:   credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")),
		ConfigSources: []any{endpoints{getenv}},
	}
	// Every service's endpoint unless the service has its own variable; the
	// service clients give that one precedence (see endpoints).
	if v := getenv("AWS_ENDPOINT_URL"); v != "" {
		cfg.BaseEndpoint = aws.String(v)
	}
	// The benchmark's cold starts set 1, so that a probe that reaches for
	// an unreachable endpoint fails at once instead of backing off.
	if v := getenv("AWS_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return aws.Config{}, fmt.Errorf("AWS_MAX_ATTEMPTS=%q: want a whole number of at least 1", v)
		}
		cfg.RetryMaxAttempts = n
	}
	switch v := strings.ToLower(getenv("AWS_RESPONSE_CHECKSUM_VALIDATION")); v {
	case "", "when_supported":
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenSupported
	case "when_required":
		cfg.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	default:
		return aws.Config{}, fmt.Errorf("AWS_RESPONSE_CHECKSUM_VALIDATION=%q: want when_supported or when_required", v)
	}
	return cfg, nil
}

// endpoints answers the service clients' question for a configured base
// endpoint, as the SDK's environment config does: AWS_ENDPOINT_URL_<ID>,
// where <ID> is the service id in upper case with spaces as underscores
// (DYNAMODB, SESV2, EVENTBRIDGE, SECRETS_MANAGER, KMS). AWS_ENDPOINT_URL
// is not answered here: the clients skip this question when it is set in
// the process environment and take aws.Config.BaseEndpoint instead.
type endpoints struct{ getenv func(string) string }

// GetServiceBaseEndpoint is the method the service clients look for among
// aws.Config.ConfigSources.
func (e endpoints) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	name := "AWS_ENDPOINT_URL_" + strings.ReplaceAll(strings.ToUpper(sdkID), " ", "_")
	if v := e.getenv(name); v != "" {
		return v, true, nil
	}
	return "", false, nil
}
