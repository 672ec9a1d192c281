package template

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// resource returns the resolved properties of the resource id, which must
// be of type typ.
func resource(t *testing.T, tp *Template, id, typ string) map[string]any {
	t.Helper()
	r, ok := tp.Resources[id]
	if !ok || r.Type != typ {
		t.Fatalf("template.yaml has no %s %s", typ, id)
	}
	return r.Properties
}

// PublicBaseUrl is where every mailed link and Microsoft's redirect URI
// point: CloudFormation must refuse a value that is not https, bar the
// local loopback.
func TestPublicBaseUrlIsHttpsOrLoopback(t *testing.T) {
	t.Parallel()
	p := load(t).Parameters["PublicBaseUrl"]
	if p.AllowedPattern == "" {
		t.Fatal("PublicBaseUrl has no AllowedPattern: any value deploys")
	}
	re, err := regexp.Compile(p.AllowedPattern)
	if err != nil {
		t.Fatalf("AllowedPattern: %v", err)
	}
	for _, ok := range []string{
		"https://connect.live.example.net", "https://example.net",
		"http://127.0.0.1", "http://127.0.0.1:3000", "http://localhost:8080",
	} {
		if !re.MatchString(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{
		"", "connect.live.example.net", "http://connect.live.example.net", "HTTPS://example.net",
		"https://", "https://example.net/", "https://example.net/path", "https://example.net:8443",
		"https://example.net?x=1", "https://example.net#x", "https://user@example.net",
		"http://127.0.0.1.evil.example", "http://localhost.evil.example", "http://127.0.0.1:3000/x",
		"javascript:alert(1)", "ftp://example.net", " https://example.net", "https://example.net\n",
		"https://-bad.example", "https://exa mple.net",
	} {
		if re.MatchString(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

// CloudWatch can publish to an encrypted topic only when the key's policy
// lets cloudwatch.amazonaws.com use it, which the AWS-managed SNS key's
// policy never does.
func TestAlarmsCanReachTheirTopic(t *testing.T) {
	t.Parallel()
	tp := load(t)
	topic := resource(t, tp, "AlarmTopic", "AWS::SNS::Topic")
	keyARN := str(topic["KmsMasterKeyId"])
	var policy map[string]any
	for id, r := range tp.Resources {
		if r.Type == "AWS::KMS::Key" && keyARN == "arn:aws:kms:eu-west-1:000000000000:key/"+id {
			policy, _ = r.Properties["KeyPolicy"].(map[string]any)
		}
	}
	if policy == nil {
		t.Fatalf("AlarmTopic is encrypted with %q, not with a key of this stack whose policy can let CloudWatch in", keyARN)
	}
	alarm := func(account, name string) kmsRequest {
		return kmsRequest{service: "cloudwatch.amazonaws.com", context: map[string]string{
			"aws:SourceAccount": account,
			"aws:SourceArn":     "arn:aws:cloudwatch:eu-west-1:" + account + ":alarm:" + name,
		}}
	}
	for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
		r := alarm("000000000000", "ocpro-DeadLetterQueueAlarm-1A2B3C4D5E6F")
		r.action = action
		if !allows(policy, r) {
			t.Errorf("the key policy does not let CloudWatch %s for this stack's alarm", action)
		}
		for _, other := range []kmsRequest{
			alarm("111111111111", "ocpro-DeadLetterQueueAlarm-1A2B3C4D5E6F"),
			alarm("000000000000", "other-stack-SomeAlarm-1A2B3C4D5E6F"),
			{service: "cloudwatch.amazonaws.com"},
			{service: "events.amazonaws.com", context: alarm("000000000000", "ocpro-X").context},
		} {
			other.action = action
			if allows(policy, other) {
				t.Errorf("the key policy lets %s %s with %v", other.service, action, other.context)
			}
		}
	}
	alarms := 0
	for id, r := range tp.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" {
			continue
		}
		alarms++
		if !slices.Contains(strs(r.Properties["AlarmActions"]), "AlarmTopic") {
			t.Errorf("%s does not notify AlarmTopic", id)
		}
	}
	if alarms == 0 {
		t.Fatal("no alarms found; the check would pass vacuously")
	}
}

// kmsRequest is a request made to KMS by an AWS service principal.
type kmsRequest struct {
	service, action string
	context         map[string]string
}

// allows evaluates a key policy for r as IAM does for the parts this
// template uses: an Allow statement naming the service, an action that
// matches (with * wildcards), and every condition met (StringEquals,
// StringLike, ArnEquals, ArnLike); any matching Deny wins.
func allows(policy map[string]any, r kmsRequest) bool {
	allowed := false
	for _, s := range list(policy["Statement"]) {
		st, _ := s.(map[string]any)
		if !slices.Contains(strs(dig(st, "Principal", "Service")), r.service) {
			continue
		}
		if !slices.ContainsFunc(strs(st["Action"]), func(a string) bool { return wildcard(a, r.action) }) {
			continue
		}
		if !conditionsMet(st["Condition"], r.context) {
			continue
		}
		if str(st["Effect"]) == "Deny" {
			return false
		}
		allowed = true
	}
	return allowed
}

func conditionsMet(cond any, ctx map[string]string) bool {
	c, _ := cond.(map[string]any)
	for op, keys := range c {
		km, _ := keys.(map[string]any)
		for key, want := range km {
			got, ok := ctx[key]
			if !ok {
				return false
			}
			match := func(w string) bool {
				switch op {
				case "StringEquals", "ArnEquals":
					return got == w
				case "StringLike", "ArnLike":
					return wildcard(w, got)
				}
				return false
			}
			if !slices.ContainsFunc(strs(want), match) {
				return false
			}
		}
	}
	return true
}

// wildcard matches s against pattern, where * stands for any run of
// characters.
func wildcard(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// Names CloudFormation would refuse for a long stack name fail a deploy
// late; names built from the stack name must fit their limit for any
// stack name (CloudFormation allows 128 characters).
func TestNamesFitAnyStackName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("s", 128)
	tp, err := Load(filepath.Join("..", "..", "template.yaml"), Options{StackName: long, Parameters: map[string]string{"PublicBaseUrl": "https://connect.live.example.net"}})
	if err != nil {
		t.Fatal(err)
	}
	// The limits of the names this template sets, by resource type.
	limits := map[string]int{
		"AWS::Events::EventBus":                  256,
		"AWS::CloudFront::OriginAccessControl":   64,
		"AWS::CloudFront::Function":              64,
		"AWS::CloudFront::ResponseHeadersPolicy": 128,
	}
	for _, s := range tp.Schedules {
		// A schedule is an EventBridge rule: 64 characters.
		if len(s.Name) > 64 {
			t.Errorf("schedule %s.%s: name of %d characters (at most 64)", s.Function, s.Event, len(s.Name))
		}
	}
	for id, r := range tp.Resources {
		for _, name := range []any{r.Properties["Name"], dig(r.Properties, "OriginAccessControlConfig", "Name"), dig(r.Properties, "ResponseHeadersPolicyConfig", "Name")} {
			n := str(name)
			if n == "" {
				continue
			}
			limit, ok := limits[r.Type]
			if !ok {
				t.Errorf("%s (%s) sets the name %q; add its length limit here", id, r.Type, n)
				continue
			}
			if len(n) > limit {
				t.Errorf("%s: name of %d characters (at most %d)", id, len(n), limit)
			}
		}
	}
}

// The public pages sit behind CloudFront with a WAF web ACL limiting each
// client address, so that one client's burst cannot use up the HTTP API's
// stage limits (which stay, as the backstop) for every administrator.
func TestPublicPagesHaveAPerClientLimit(t *testing.T) {
	t.Parallel()
	tp := load(t)
	dist := resource(t, tp, "Distribution", "AWS::CloudFront::Distribution")
	cfg, _ := dist["DistributionConfig"].(map[string]any)
	if str(cfg["WebACLId"]) != tp.Parameters["PublicWebAclArn"].Value {
		t.Errorf("the distribution's WebACLId is %q, not the PublicWebAclArn parameter", cfg["WebACLId"])
	}
	if aliases := strs(cfg["Aliases"]); !slices.Equal(aliases, []string{"127.0.0.1:3000"}) {
		// load gives PublicBaseUrl http://127.0.0.1:3000: the alias is its host.
		t.Errorf("Aliases = %v, want the host of PublicBaseUrl", aliases)
	}
	origins := map[string]string{}
	for _, o := range list(cfg["Origins"]) {
		origins[str(dig(o, "Id"))] = str(dig(o, "DomainName"))
	}
	if api := origins[str(dig(cfg, "DefaultCacheBehavior", "TargetOriginId"))]; api != "HttpApi.execute-api.eu-west-1.amazonaws.com" {
		t.Errorf("the default behaviour goes to %q, not the HTTP API", api)
	}
	if tp.DefaultThrottle == nil {
		t.Error("the HTTP API's stage throttling, the backstop, is gone")
	}

	waf, err := Load(filepath.Join("..", "cfn", "waf.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	acl := resource(t, waf, "WebAcl", "AWS::WAFv2::WebACL")
	if str(acl["Scope"]) != "CLOUDFRONT" {
		t.Errorf("web ACL scope %v, want CLOUDFRONT", acl["Scope"])
	}
	// Every public route's first path segment must be under a rate-based
	// rule keyed by the client's address.
	limited := map[string]bool{}
	for _, rule := range list(acl["Rules"]) {
		rb, ok := dig(rule, "Statement", "RateBasedStatement").(map[string]any)
		if !ok || str(rb["AggregateKeyType"]) != "IP" || dig(rule, "Action", "Block") == nil {
			continue
		}
		if rb["ScopeDownStatement"] == nil {
			limited["/"] = true
		}
		for _, s := range list(dig(rb, "ScopeDownStatement", "OrStatement", "Statements")) {
			if m, ok := dig(s, "ByteMatchStatement").(map[string]any); ok && str(m["PositionalConstraint"]) == "STARTS_WITH" {
				limited[str(m["SearchString"])] = true
			}
		}
	}
	public := 0
	for _, r := range tp.Routes {
		if !r.Public {
			continue
		}
		public++
		first := "/" + strings.Split(strings.TrimPrefix(r.Path, "/"), "/")[0] + "/"
		if !limited[first] {
			t.Errorf("%s: no per-client rate rule covers %s", r.RouteKey(), first)
		}
	}
	if public == 0 || !limited["/"] {
		t.Errorf("want a per-client rule for the public routes (%d) and one for every path (%v)", public, limited["/"])
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"PublicPagesLimit", "AnyPathLimit"} {
		p := waf.Parameters[name]
		if !strings.Contains(string(readme), "`"+name+"`") || !strings.Contains(string(readme), p.Default+" requests") {
			t.Errorf("README.md does not document %s (%s requests)", name, p.Default)
		}
	}
}

// The console comes from a bucket nobody reads but this distribution,
// through origin access control, with the security headers the local
// gateway sends (infra/gateway holds the two CSPs together).
func TestConsoleFromAPrivateBucket(t *testing.T) {
	t.Parallel()
	tp := load(t)
	cfg, _ := resource(t, tp, "Distribution", "AWS::CloudFront::Distribution")["DistributionConfig"].(map[string]any)
	var console map[string]any
	for _, b := range list(cfg["CacheBehaviors"]) {
		if str(dig(b, "PathPattern")) == "/console/*" {
			console, _ = b.(map[string]any)
		}
	}
	if console == nil {
		t.Fatal("no /console/* cache behaviour")
	}
	var origin map[string]any
	for _, o := range list(cfg["Origins"]) {
		if str(dig(o, "Id")) == str(console["TargetOriginId"]) {
			origin, _ = o.(map[string]any)
		}
	}
	if str(origin["DomainName"]) != "ConsoleBucket" || str(dig(origin, "S3OriginConfig", "OriginAccessIdentity")) != "" {
		t.Errorf("the console's origin is %v, want ConsoleBucket without an origin access identity", origin)
	}
	oac := resource(t, tp, "ConsoleOriginAccessControl", "AWS::CloudFront::OriginAccessControl")
	if str(origin["OriginAccessControlId"]) != "ConsoleOriginAccessControl" || str(dig(oac, "OriginAccessControlConfig", "SigningBehavior")) != "always" {
		t.Errorf("the console's origin is not read through an always-signing origin access control")
	}
	block, _ := resource(t, tp, "ConsoleBucket", "AWS::S3::Bucket")["PublicAccessBlockConfiguration"].(map[string]any)
	for _, k := range []string{"BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"} {
		if block[k] != true {
			t.Errorf("ConsoleBucket: %s is not true", k)
		}
	}
	for _, s := range list(dig(resource(t, tp, "ConsoleBucketPolicy", "AWS::S3::BucketPolicy"), "PolicyDocument", "Statement")) {
		if str(dig(s, "Effect")) != "Allow" {
			continue
		}
		if !slices.Equal(strs(dig(s, "Principal", "Service")), []string{"cloudfront.amazonaws.com"}) ||
			!slices.Equal(strs(dig(s, "Action")), []string{"s3:GetObject"}) ||
			str(dig(s, "Condition", "StringEquals", "aws:SourceArn")) != "arn:aws:cloudfront::000000000000:distribution/Distribution" {
			t.Errorf("the bucket policy allows more than this distribution's reads: %v", s)
		}
	}
	if str(console["ResponseHeadersPolicyId"]) != "ConsoleHeaders" {
		t.Fatalf("the console's behaviour has no ConsoleHeaders policy")
	}
	sec, _ := dig(resource(t, tp, "ConsoleHeaders", "AWS::CloudFront::ResponseHeadersPolicy"), "ResponseHeadersPolicyConfig", "SecurityHeadersConfig").(map[string]any)
	if age := num(dig(sec, "StrictTransportSecurity", "AccessControlMaxAgeSec"), 0); age < 31536000 {
		t.Errorf("HSTS max-age %d, want a year or more", age)
	}
	if dig(sec, "ContentTypeOptions", "Override") != true || str(dig(sec, "FrameOptions", "FrameOption")) != "DENY" ||
		str(dig(sec, "ReferrerPolicy", "ReferrerPolicy")) != "no-referrer" ||
		!strings.Contains(str(dig(sec, "ContentSecurityPolicy", "ContentSecurityPolicy")), "frame-ancestors 'none'") {
		t.Errorf("security headers %v lack nosniff, DENY, no-referrer or frame-ancestors 'none'", sec)
	}
}

// The sending domain signs with Easy DKIM and has a MAIL FROM domain of its
// own, so that Microsoft 365 sees DMARC pass; the function may send from
// that identity alone, and the README says which DNS records to create.
func TestMailIdentityAligns(t *testing.T) {
	t.Parallel()
	tp := load(t)
	id := resource(t, tp, "MailIdentity", "AWS::SES::EmailIdentity")
	domain := tp.Parameters["MailDomain"].Value
	if str(id["EmailIdentity"]) != domain {
		t.Errorf("MailIdentity is %v, not MailDomain", id["EmailIdentity"])
	}
	if dig(id, "DkimAttributes", "SigningEnabled") != true {
		t.Error("Easy DKIM signing is off")
	}
	if from := str(dig(id, "MailFromAttributes", "MailFromDomain")); !strings.HasSuffix(from, "."+domain) {
		t.Errorf("MAIL FROM domain %q is not under %s, so SPF cannot align", from, domain)
	}
	want := "arn:aws:ses:eu-west-1:000000000000:identity/" + domain
	for _, st := range tp.Functions["InvitationEmailFunction"].Policies {
		if slices.Contains(st.Actions, "ses:SendEmail") && !slices.Contains(st.Resources, want) {
			t.Errorf("ses:SendEmail is granted on %v, not on the stack's identity %s", st.Resources, want)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"_domainkey", "_dmarc", "v=spf1 include:amazonses.com", "feedback-smtp.", "Authentication-Results", "dmarc=pass", "dig "} {
		if !strings.Contains(string(readme), s) {
			t.Errorf("README.md does not explain %q", s)
		}
	}
}

// sam build builds each function with the Makefile's build-<LogicalId>
// target, which CI runs for every function in the Makefile's FUNCTIONS
// (make build-all): the list must be the template's functions, each built
// by the Makefile.
func TestEveryFunctionBuildsAsSamBuildDoes(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Resources map[string]struct {
			Type     string `yaml:"Type"`
			Metadata struct {
				BuildMethod string `yaml:"BuildMethod"`
			} `yaml:"Metadata"`
			Properties struct {
				CodeUri string `yaml:"CodeUri"`
			} `yaml:"Properties"`
		} `yaml:"Resources"`
	}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var functions []string
	for id, r := range raw.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		functions = append(functions, id)
		if r.Metadata.BuildMethod != "makefile" || r.Properties.CodeUri != "." {
			t.Errorf("%s: BuildMethod %q, CodeUri %q; want makefile and .", id, r.Metadata.BuildMethod, r.Properties.CodeUri)
		}
	}
	makefile, err := os.ReadFile(filepath.Join("..", "..", "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FUNCTIONS := ((?:.*\\\n)*.*)$`).FindSubmatch(makefile)
	if m == nil {
		t.Fatal("the Makefile has no FUNCTIONS list")
	}
	listed := strings.Fields(strings.ReplaceAll(string(m[1]), "\\", " "))
	slices.Sort(functions)
	slices.Sort(listed)
	if !slices.Equal(functions, listed) {
		t.Errorf("Makefile FUNCTIONS = %v, template.yaml's functions = %v", listed, functions)
	}
}
