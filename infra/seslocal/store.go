package seslocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mail is one mail that aws-ses-v2-local was asked to send.
type Mail struct {
	MessageID string
	From      string
	ReplyTo   []string
	To        []string
	CC        []string
	BCC       []string
	Subject   string
	HTML      string
	Text      string
	// At is when the server took the mail, to the second.
	At time.Time
}

// SentTo reports whether address is among the mail's To, CC or BCC
// recipients. Addresses compare without regard to case, as mailboxes do in
// practice.
func (m Mail) SentTo(address string) bool {
	for _, list := range [][]string{m.To, m.CC, m.BCC} {
		for _, a := range list {
			if strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(address)) {
				return true
			}
		}
	}
	return false
}

// storedMail is a mail as GET /store lists it.
type storedMail struct {
	MessageID   string   `json:"messageId"`
	From        string   `json:"from"`
	ReplyTo     []string `json:"replyTo"`
	Destination struct {
		To  []string `json:"to"`
		CC  []string `json:"cc"`
		BCC []string `json:"bcc"`
	} `json:"destination"`
	Subject string `json:"subject"`
	Body    struct {
		HTML string `json:"html"`
		Text string `json:"text"`
	} `json:"body"`
	At int64 `json:"at"` // Unix seconds
}

// Mails returns the mails the server at endpoint took at or after since, in
// the order it took them; a zero since returns them all. The server keeps
// whole seconds, so since is rounded down to its second and a mail from
// earlier in that second is included too.
func Mails(ctx context.Context, endpoint string, since time.Time) ([]Mail, error) {
	u, err := url.JoinPath(endpoint, "store")
	if err != nil {
		return nil, fmt.Errorf("seslocal: endpoint %q: %w", endpoint, err)
	}
	if !since.IsZero() {
		u += "?since=" + strconv.FormatInt(since.Unix(), 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("seslocal: mails: %w", err)
	}
	var store struct {
		Emails []storedMail `json:"emails"`
	}
	if err := do(req, &store); err != nil {
		return nil, fmt.Errorf("seslocal: mails: %w", err)
	}
	mails := make([]Mail, 0, len(store.Emails))
	for _, e := range store.Emails {
		mails = append(mails, Mail{
			MessageID: e.MessageID,
			From:      e.From,
			ReplyTo:   e.ReplyTo,
			To:        e.Destination.To,
			CC:        e.Destination.CC,
			BCC:       e.Destination.BCC,
			Subject:   e.Subject,
			HTML:      e.Body.HTML,
			Text:      e.Body.Text,
			At:        time.Unix(e.At, 0),
		})
	}
	return mails, nil
}

// MailsTo returns the mails the server at endpoint took for address, as
// Mails with since zero filtered by Mail.SentTo.
func MailsTo(ctx context.Context, endpoint, address string) ([]Mail, error) {
	all, err := Mails(ctx, endpoint, time.Time{})
	if err != nil {
		return nil, err
	}
	var mails []Mail
	for _, m := range all {
		if m.SentTo(address) {
			mails = append(mails, m)
		}
	}
	return mails, nil
}

// WaitForMail polls the server at endpoint until it holds a mail for
// address and returns the first one, or fails when ctx ends. It is for mail
// sent asynchronously, for example by a function behind an event rule.
func WaitForMail(ctx context.Context, endpoint, address string) (Mail, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		mails, err := MailsTo(ctx, endpoint, address)
		if err == nil && len(mails) > 0 {
			return mails[0], nil
		}
		select {
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
			return Mail{}, fmt.Errorf("seslocal: no mail for %s: %w", address, err)
		case <-tick.C:
		}
	}
}

// Clear empties the store of the server at endpoint, mails and templates.
// Every test sharing that server loses its mails: see the package comment.
func Clear(ctx context.Context, endpoint string) error {
	u, err := url.JoinPath(endpoint, "clear-store")
	if err != nil {
		return fmt.Errorf("seslocal: endpoint %q: %w", endpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return fmt.Errorf("seslocal: clear: %w", err)
	}
	if err := do(req, nil); err != nil {
		return fmt.Errorf("seslocal: clear: %w", err)
	}
	return nil
}

// do sends req and decodes a 200 answer's JSON into out, when out is not nil.
func do(req *http.Request, out any) error {
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(string(body)))
	}
	if out == nil {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding %s: %w", req.URL.Path, err)
	}
	return nil
}
