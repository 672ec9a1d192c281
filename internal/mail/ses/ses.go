// Package ses sends rendered invitation mails through Amazon SES v2: it
// retries throttling with backoff and jitter within the caller's deadline
// and sorts every failure into a mail.ErrorKind, so callers decide on the
// kind and never on SES's error types.
package ses

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	netmail "net/mail"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/smithy-go"

	"github.com/ocpro/upgrade/internal/mail"
)

// SESClient is the part of the SES v2 client a Sender needs.
type SESClient interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

var _ SESClient = (*sesv2.Client)(nil)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// From is the verified SES identity the mails are sent from.
	From string
	// SenderName is the display name in the From header unless a mail.Message
	// names its own.
	SenderName string
	// ConfigurationSet routes delivery events and keeps tracking off.
	ConfigurationSet string
	// ReplyTo is the default reply-to address; optional.
	ReplyTo string
	// MaxAttempts bounds the attempts for a throttled mail; 0 means 4.
	MaxAttempts int
	// BaseDelay is the backoff before the second attempt; 0 means 250ms.
	BaseDelay time.Duration
	// MaxDelay caps the backoff; 0 means 4s.
	MaxDelay time.Duration
	// Logger receives warnings and alarms; nil means slog.Default().
	Logger *slog.Logger
}

// Sender sends rendered mails through SES v2. It is safe for concurrent use.
type Sender struct {
	client SESClient
	cfg    SenderConfig
	log    *slog.Logger

	// Time is injected so that tests never sleep.
	now    func() time.Time
	sleep  func(context.Context, time.Duration) error
	jitter func(time.Duration) time.Duration
}

// NewSender returns a Sender that sends through client.
func NewSender(client SESClient, cfg SenderConfig) (*Sender, error) {
	if client == nil {
		return nil, errors.New("ses: NewSender: nil SES client")
	}
	if fe := mail.ValidateAddress("from", cfg.From); fe != nil {
		return nil, fmt.Errorf("ses: NewSender: from address: %s", fe.Message)
	}
	if cfg.SenderName != "" {
		if fe := mail.ValidateSenderName("senderName", cfg.SenderName); fe != nil {
			return nil, fmt.Errorf("ses: NewSender: sender name: %s", fe.Message)
		}
	}
	if cfg.ReplyTo != "" {
		if fe := mail.ValidateAddress("replyTo", cfg.ReplyTo); fe != nil {
			return nil, fmt.Errorf("ses: NewSender: reply-to address: %s", fe.Message)
		}
	}
	if cfg.ConfigurationSet == "" {
		return nil, errors.New("ses: NewSender: configuration set is required (it carries delivery events and keeps tracking off)")
	}
	if cfg.MaxAttempts < 0 || cfg.BaseDelay < 0 || cfg.MaxDelay < 0 {
		return nil, errors.New("ses: NewSender: negative retry settings")
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 4
	}
	if cfg.BaseDelay == 0 {
		cfg.BaseDelay = 250 * time.Millisecond
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 4 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Sender{
		client: client,
		cfg:    cfg,
		log:    log,
		now:    time.Now,
		sleep:  sleepContext,
		jitter: equalJitter,
	}, nil
}

// Send sends msg to one address and returns the SES message id. Throttling
// is retried here with backoff and jitter, within MaxAttempts and ctx's
// deadline; every other failure returns at once as a *mail.SendError. An outcome
// of mail.ErrorUnknown is not retried: the caller decides whether a possible
// duplicate is better than a possibly missing mail. tags become SES message
// tags; characters SES does not allow are replaced by "_".
func (s *Sender) Send(ctx context.Context, to string, msg mail.Message, tags map[string]string) (string, error) {
	in, err := s.input(to, msg, tags)
	if err != nil {
		return "", err
	}
	for attempt := 1; ; attempt++ {
		out, err := s.client.SendEmail(ctx, in, withoutSDKRetries)
		if err == nil {
			return aws.ToString(out.MessageId), nil
		}
		se := classify(err)
		se.Attempts = attempt
		switch se.Kind {
		case mail.ErrorPaused:
			s.log.ErrorContext(ctx, "SES sending is paused; no mail can be sent",
				"alarm", "ses_sending_paused", "code", se.Code)
			return "", se
		case mail.ErrorThrottled:
			// Handled below.
		default:
			return "", se
		}
		if attempt >= s.cfg.MaxAttempts {
			s.log.WarnContext(ctx, "SES still throttling, giving up", "attempts", attempt, "code", se.Code)
			return "", se
		}
		delay := s.jitter(s.backoff(attempt))
		if deadline, ok := ctx.Deadline(); ok && !s.now().Add(delay).Before(deadline) {
			s.log.WarnContext(ctx, "SES throttling, no time left to retry", "attempts", attempt, "code", se.Code)
			return "", se
		}
		s.log.WarnContext(ctx, "SES throttling, retrying", "attempt", attempt, "delay", delay, "code", se.Code)
		if err := s.sleep(ctx, delay); err != nil {
			// The last answer was a refusal, so nothing was sent.
			se.Err = errors.Join(se.Err, err)
			return "", se
		}
	}
}

// input builds the SES request, refusing what SES would refuse anyway or
// what could inject a header.
func (s *Sender) input(to string, msg mail.Message, tags map[string]string) (*sesv2.SendEmailInput, error) {
	if fe := mail.ValidateAddress("to", to); fe != nil {
		return nil, &mail.SendError{Kind: mail.ErrorPermanent, Code: "InvalidRecipient", Message: "The recipient is not one valid email address."}
	}
	if strings.TrimSpace(msg.Subject) == "" || strings.ContainsFunc(msg.Subject, unicode.IsControl) {
		return nil, &mail.SendError{Kind: mail.ErrorPermanent, Code: "InvalidMessage", Message: "The subject is empty or holds a line break."}
	}
	if msg.HTML == "" && msg.Text == "" {
		return nil, &mail.SendError{Kind: mail.ErrorPermanent, Code: "InvalidMessage", Message: "The mail has no content."}
	}
	name := s.cfg.SenderName
	if msg.SenderName != "" {
		if fe := mail.ValidateSenderName("senderName", msg.SenderName); fe != nil {
			return nil, &mail.SendError{Kind: mail.ErrorPermanent, Code: "InvalidSender", Message: fe.Message}
		}
		name = msg.SenderName
	}
	replyTo := s.cfg.ReplyTo
	if msg.ReplyTo != "" {
		if fe := mail.ValidateAddress("replyTo", msg.ReplyTo); fe != nil {
			return nil, &mail.SendError{Kind: mail.ErrorPermanent, Code: "InvalidReplyTo", Message: fe.Message}
		}
		replyTo = msg.ReplyTo
	}

	// net/mail quotes the name and encodes it as RFC 2047 when it is not
	// plain ASCII, which SES requires of a From header.
	from := (&netmail.Address{Name: name, Address: s.cfg.From}).String()
	body := &types.Body{}
	if msg.HTML != "" {
		body.Html = &types.Content{Data: aws.String(msg.HTML), Charset: aws.String("UTF-8")}
	}
	if msg.Text != "" {
		body.Text = &types.Content{Data: aws.String(msg.Text), Charset: aws.String("UTF-8")}
	}
	in := &sesv2.SendEmailInput{
		FromEmailAddress:     aws.String(from),
		Destination:          &types.Destination{ToAddresses: []string{to}},
		ConfigurationSetName: aws.String(s.cfg.ConfigurationSet),
		EmailTags:            messageTags(tags),
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String(msg.Subject), Charset: aws.String("UTF-8")},
			Body:    body,
		}},
	}
	if replyTo != "" {
		in.ReplyToAddresses = []string{replyTo}
	}
	return in, nil
}

// withoutSDKRetries turns off the SDK's own retries for SendEmail: they
// would also repeat timeouts and server errors, whose mail may already have
// gone out. Send retries throttling itself.
func withoutSDKRetries(o *sesv2.Options) {
	o.Retryer = aws.NopRetryer{}
}

// maxTagLen is SES's limit on a tag name or value.
const maxTagLen = 256

// messageTags turns tags into SES message tags in a stable order.
func messageTags(tags map[string]string) []types.MessageTag {
	out := make([]types.MessageTag, 0, len(tags))
	for k, v := range tags {
		name := tagSafe(k)
		if name == "" {
			continue
		}
		value := tagSafe(v)
		if value == "" {
			value = "_"
		}
		out = append(out, types.MessageTag{Name: aws.String(name), Value: aws.String(value)})
	}
	sort.Slice(out, func(i, j int) bool { return *out[i].Name < *out[j].Name })
	return out
}

// tagSafe keeps what SES allows in a tag ([A-Za-z0-9_-], at most 256
// characters) and replaces anything else by "_".
func tagSafe(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() == maxTagLen {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// backoff is the exponential delay before attempt+1, capped at MaxDelay.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.BaseDelay
	for i := 1; i < attempt && d < s.cfg.MaxDelay; i++ {
		d *= 2
	}
	return min(d, s.cfg.MaxDelay)
}

// equalJitter returns a random delay between d/2 and d, so that senders
// throttled together do not retry together.
func equalJitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// classify maps an SES error to a mail.SendError. Typed SES errors come first;
// the error code covers the same errors when they arrive untyped (for
// example from a proxy or a local stand-in); what remains is judged by the
// HTTP status.
func classify(err error) *mail.SendError {
	var (
		rejected   *types.MessageRejected
		mailFrom   *types.MailFromDomainNotVerifiedException
		badRequest *types.BadRequestException
		notFound   *types.NotFoundException
		paused     *types.SendingPausedException
		suspended  *types.AccountSuspendedException
		tooMany    *types.TooManyRequestsException
		limit      *types.LimitExceededException
	)
	switch {
	case errors.As(err, &tooMany), errors.As(err, &limit):
		return throttled(err)
	case errors.As(err, &paused), errors.As(err, &suspended):
		return pausedError(err)
	case errors.As(err, &rejected), errors.As(err, &mailFrom), errors.As(err, &badRequest), errors.As(err, &notFound):
		return permanent(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return unknown(err)
	}

	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return unknown(err)
	}
	switch apiErr.ErrorCode() {
	case "TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException":
		return throttled(err)
	case "SendingPausedException", "AccountSuspendedException":
		return pausedError(err)
	case "MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException", "NotFoundException":
		return permanent(err)
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		switch code := status.HTTPStatusCode(); {
		case code == 429:
			return throttled(err)
		case code >= 400 && code < 500 && code != 408:
			// SES answered and refused; repeating the request gets the same.
			return permanent(err)
		}
	}
	return unknown(err)
}

func throttled(err error) *mail.SendError {
	return &mail.SendError{Kind: mail.ErrorThrottled, Code: errorCode(err, "Throttled"), Err: err,
		Message: "SES is limiting the sending rate; the mail was not sent and can be tried again later."}
}

func pausedError(err error) *mail.SendError {
	return &mail.SendError{Kind: mail.ErrorPaused, Code: errorCode(err, "SendingPaused"), Err: err,
		Message: "Sending is paused for the SES account or configuration set; no mail is sent until it is resumed."}
}

func unknown(err error) *mail.SendError {
	return &mail.SendError{Kind: mail.ErrorUnknown, Code: errorCode(err, "Unknown"), Err: err,
		Message: "The outcome is unknown: SES may or may not have accepted the mail."}
}

func permanent(err error) *mail.SendError {
	code := errorCode(err, "Rejected")
	var msg string
	switch code {
	case "MessageRejected":
		msg = "SES rejected the mail"
	case "MailFromDomainNotVerifiedException":
		msg = "The sender's MAIL FROM domain is not verified in SES"
	case "NotFoundException":
		msg = "SES does not know the sending identity or configuration set"
	case "BadRequestException":
		msg = "SES refused the request (for example, an unverified sender identity)"
	default:
		msg = "SES refused the mail"
	}
	if detail := errorMessage(err); detail != "" {
		msg += ": " + detail
	}
	return &mail.SendError{Kind: mail.ErrorPermanent, Code: code, Err: err, Message: msg + "."}
}

func errorCode(err error, fallback string) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		return apiErr.ErrorCode()
	}
	return fallback
}

// errorMessage returns SES's own explanation, trimmed to one short line.
func errorMessage(err error) string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	m := strings.TrimRight(mail.OneLine(strings.TrimSpace(apiErr.ErrorMessage())), ".")
	if r := []rune(m); len(r) > 300 {
		m = string(r[:300]) + "…"
	}
	return m
}
