package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/ocpro/upgrade/infra/dynamolocal"
)

// Whoever reads the table must not be able to open anything with what it
// holds. The test runs the whole flow, with the replayable invitation
// actions sent under an Idempotency-Key, then reads every item of every
// table and tries every string in it, and every string decoded from it, as
// a wizard link, a callback state and a bearer token.
//
// It does not run in parallel: the public routes' stage limits are one
// bucket for everybody, and its hundreds of tries would throttle the other
// tests. Run alone, it also reads only the items its own flow wrote.
func TestTableDumpOpensNothing(t *testing.T) {
	c := portal(t, unique("op-dump-"))
	tn := newTenant(t)
	cust := must(t, c.do(http.MethodPost, "/v1/customers", map[string]any{"name": "Dump " + unique("d"), "kind": "CUSTOMER"}), http.StatusCreated)
	admin := unique("admin-") + "@" + strings.TrimPrefix(tn.admin, "admin@")
	body := upgradeBody(unique("Dump"))
	body["adminEmail"] = admin
	up := must(t, c.do(http.MethodPost, "/v1/customers/"+cust["id"].(string)+"/upgrades", body, "Idempotency-Key", unique("create-")), http.StatusCreated)
	upgradeID := up["id"].(string)
	id := up["invitation"].(map[string]any)["id"].(string)
	waitForMails(t, admin, 1)
	waitForInvitation(t, c, id, "sent", func(i map[string]any) bool { return i["emailSent"] == true })

	authURL := keyedActions(t, c, id)

	// The wizard the device code way, the admin consent, the automatic
	// validation, and the resume that reads the customer's tenant again.
	b := newBrowser(t)
	device := b.action(b.get(authURL), authURL, "device", nil)
	if err := env.Entra.ApproveDeviceCode(find(t, userCodeRe, device), tn.admin); err != nil {
		t.Fatal(err)
	}
	acquired := waitForStep(t, b, authURL, "successfully acquired a token")
	wantText(t, consent(t, b, authURL, acquired, tn.admin), http.StatusOK, "Tenant Activation")
	w := waiting{c: c, tn: tn, customerID: cust["id"].(string), upgradeID: upgradeID, invitation: id}
	w.waitForStatus(t, "READY_TO_RESUME")
	must(t, w.resume("OC_PRO", 25), http.StatusOK)

	// A second invitation stays live after the same actions, with a
	// sign-in started and a state waiting in the table for a callback that
	// never comes.
	admin = unique("admin-") + "@" + strings.TrimPrefix(tn.admin, "admin@")
	body = upgradeBody(unique("Dump"))
	body["adminEmail"] = admin
	other := newCustomer(t, c)
	live := must(t, c.do(http.MethodPost, "/v1/customers/"+other["id"].(string)+"/upgrades", body), http.StatusCreated)
	liveID := live["invitation"].(map[string]any)["id"].(string)
	waitForMails(t, admin, 1)
	waitForInvitation(t, c, liveID, "sent", func(i map[string]any) bool { return i["emailSent"] == true })
	liveURL := keyedActions(t, c, liveID)
	nb := newBrowser(t)
	nb.action(nb.get(liveURL), liveURL, "signin", func(*url.URL) bool { return true })

	strs := dumpStrings(t)
	if !strs[upgradeID] {
		t.Fatalf("the dump lacks the upgrade %s: the scan missed items", upgradeID)
	}
	opened := tryEverything(t, strs)
	for _, o := range opened {
		t.Errorf("a string from the table opens something: %s", o)
	}
	t.Logf("tried %d strings from the table as link, state and bearer token", len(strs))
}

// keyedActions resends and regenerates the invitation under an
// Idempotency-Key each, sends each request twice, and returns the live link
// the replayed regenerate answered.
func keyedActions(t *testing.T, c *client, id string) string {
	t.Helper()
	rewriteInvitation(t, id, backdateMail(2*time.Minute))
	resendKey, regenKey := unique("resend-"), unique("regen-")
	for range 2 {
		must(t, c.do(http.MethodPost, "/v1/invitations/"+id+"/resend", nil, "Idempotency-Key", resendKey), http.StatusAccepted)
	}
	var authURL string
	for i := range 2 {
		r := c.do(http.MethodPost, "/v1/invitations/"+id+"/regenerate", nil, "Idempotency-Key", regenKey)
		regen := must(t, r, http.StatusOK)
		u, _ := regen["authUrl"].(string)
		if u == "" || (i == 1 && (u != authURL || r.Header.Get("Idempotent-Replayed") != "true")) {
			t.Fatalf("regenerate answer %d = %v (replayed %q), want the live link %s", i, regen, r.Header.Get("Idempotent-Replayed"), authURL)
		}
		authURL = u
	}
	if got := linkStatus(t, authURL); got != http.StatusOK {
		t.Fatalf("the replayed link answers %d, want 200", got)
	}
	return authURL
}

// dumpStrings reads every item of every table and returns every string in
// it and every string decoded from those, base64 and JSON included.
func dumpStrings(t *testing.T) map[string]bool {
	t.Helper()
	ctx := t.Context()
	db, err := dynamolocal.NewClient(ctx, env.DynamoURL)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	tables, err := db.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables.TableNames {
		p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("scan %s: %v", table, err)
			}
			for _, item := range page.Items {
				for _, v := range item {
					attributeStrings(v, out)
				}
			}
		}
	}
	return out
}

func attributeStrings(v types.AttributeValue, out map[string]bool) {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		decodedStrings(v.Value, out, 0)
	case *types.AttributeValueMemberSS:
		for _, s := range v.Value {
			decodedStrings(s, out, 0)
		}
	case *types.AttributeValueMemberB:
		decodedStrings(string(v.Value), out, 0)
		decodedStrings(base64.StdEncoding.EncodeToString(v.Value), out, 0)
	case *types.AttributeValueMemberBS:
		for _, b := range v.Value {
			decodedStrings(string(b), out, 0)
		}
	case *types.AttributeValueMemberL:
		for _, e := range v.Value {
			attributeStrings(e, out)
		}
	case *types.AttributeValueMemberM:
		for k, e := range v.Value {
			decodedStrings(k, out, 0)
			attributeStrings(e, out)
		}
	}
}

var urlRe = regexp.MustCompile(`https?://[^\s"'<>]+`)

// decodedStrings adds s and what it decodes to: JSON values, base64 in
// its four alphabets, the parts of a URL, the parts split at '.', '#' and
// whitespace.
func decodedStrings(s string, out map[string]bool, depth int) {
	if s == "" || out[s] || depth > 6 || !utf8.ValidString(s) {
		return
	}
	out[s] = true
	var j any
	if json.Unmarshal([]byte(s), &j) == nil {
		jsonStrings(j, out, depth+1)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 && utf8.Valid(b) {
			decodedStrings(string(b), out, depth+1)
		}
	}
	for _, u := range urlRe.FindAllString(s, -1) {
		decodedStrings(u, out, depth+1)
		if pu, err := url.Parse(u); err == nil {
			for _, seg := range strings.Split(pu.Path, "/") {
				decodedStrings(seg, out, depth+1)
			}
			for _, vs := range pu.Query() {
				for _, v := range vs {
					decodedStrings(v, out, depth+1)
				}
			}
		}
	}
	for _, sep := range []string{"#", " ", "\n"} {
		if parts := strings.Split(s, sep); len(parts) > 1 {
			for _, p := range parts {
				decodedStrings(p, out, depth+1)
			}
		}
	}
}

func jsonStrings(v any, out map[string]bool, depth int) {
	switch v := v.(type) {
	case string:
		decodedStrings(v, out, depth)
	case []any:
		for _, e := range v {
			jsonStrings(e, out, depth)
		}
	case map[string]any:
		for k, e := range v {
			decodedStrings(k, out, depth)
			jsonStrings(e, out, depth)
		}
	}
}

// tryEverything tries each string that could be a secret (16 characters
// or more: link tokens, states, codes and tokens are all longer) as a
// wizard link, a callback state and a bearer token for the portal API and
// for Graph, and says which ones opened something.
func tryEverything(t *testing.T, strs map[string]bool) []string {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	graph := env.Entra.Client()
	graph.Timeout = 30 * time.Second
	unknownState := callbackPage(t, noRedirect, "unknown-"+unique("state-")+strings.Repeat("x", 20))

	var (
		mu     sync.Mutex
		opened []string
		wg     sync.WaitGroup
	)
	work := make(chan string)
	note := func(what, s string) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, what+" "+s[:min(len(s), 12)]+"...")
	}
	for range 4 {
		wg.Go(func() {
			for s := range work {
				if status(t, noRedirect, env.APIURL+"/invite/"+url.PathEscape(s), "") == http.StatusOK {
					note("link", s)
				}
				if strings.HasPrefix(s, env.APIURL+"/invite/") && status(t, noRedirect, s, "") == http.StatusOK {
					note("link", s)
				}
				if callbackPage(t, noRedirect, s) != unknownState {
					note("state", s)
				}
				if status(t, noRedirect, env.APIURL+"/v1/customers", s) != http.StatusUnauthorized {
					note("portal bearer", s)
				}
				if status(t, graph, env.EntraURL+"/v1.0/organization", s) != http.StatusUnauthorized {
					note("graph bearer", s)
				}
			}
		})
	}
	for s := range strs {
		if len(s) >= 16 && !strings.ContainsAny(s, "\x00\r\n") {
			work <- s
		}
	}
	close(work)
	wg.Wait()
	return opened
}

func status(t *testing.T, c *http.Client, target, bearer string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, target, nil)
	if err != nil {
		return 0 // not a URL at all, so it opens nothing
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := unthrottled(c, req)
	if err != nil {
		t.Errorf("GET %s: %v", req.URL.Path, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// unthrottled sends req again while the gateway answers 429: the stage
// limits are not what the test is about.
func unthrottled(c *http.Client, req *http.Request) (*http.Response, error) {
	for try, wait := 1, 50*time.Millisecond; ; try, wait = try+1, min(2*wait, time.Second) {
		resp, err := c.Do(req)
		if err != nil || resp.StatusCode != http.StatusTooManyRequests || try == 100 {
			return resp, err
		}
		resp.Body.Close()
		time.Sleep(wait)
	}
}

var nonceRe = regexp.MustCompile(`nonce-?[=:"' ]*[A-Za-z0-9+/=_-]+`)

// callbackPage returns the status and body of the consent callback with
// state, its nonces taken out, so that two answers can be compared.
func callbackPage(t *testing.T, c *http.Client, state string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, env.APIURL+"/consent/callback?"+url.Values{"state": {state}, "code": {"dump-code"}}.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := unthrottled(c, req)
	if err != nil {
		t.Errorf("callback: %v", err)
		return ""
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.Status + "\n" + nonceRe.ReplaceAllString(b.String(), "")
}
