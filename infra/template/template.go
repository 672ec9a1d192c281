// Package template reads the parts of template.yaml that the local stack
// needs: functions and their environment, HTTP API routes and the JWT
// authorizer, EventBridge rules, schedules and DynamoDB tables.
//
// The local stack takes all of its wiring from here, so that a route, rule or
// table added to template.yaml is served locally without touching the stack.
// It is a small typed reader rather than a full CloudFormation model: it
// resolves the intrinsic functions the template uses (!Ref, !Sub, !GetAtt)
// against parameter values and local physical names, and merges Globals into
// each function as SAM does.
package template

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LocalStreamLabel is the label of a table's stream ARN locally (AWS
// labels a stream with the time it was enabled).
const LocalStreamLabel = "2026-01-01T00:00:00.000"

// Options say how intrinsic functions resolve locally.
type Options struct {
	// Parameters override the parameter defaults of the template.
	Parameters map[string]string
	// Names give local physical names to resources, by logical id. A resource
	// without one is named by its logical id.
	Names     map[string]string
	Region    string
	AccountID string
	StackName string
}

// Template is the resolved local view of template.yaml.
type Template struct {
	Parameters map[string]Parameter
	Functions  map[string]*Function
	Routes     []Route
	Authorizer *JWTAuthorizer
	// Throttles are the HttpApi's RouteSettings by route key, and
	// DefaultThrottle its DefaultRouteSettings (nil when absent).
	Throttles       map[string]Throttle
	DefaultThrottle *Throttle
	Rules           []Rule
	Schedules       []Schedule
	Tables          []Table
	Buses           []string
	// Resources holds every resource with its properties resolved, for
	// the checks of what the local stack does not run (keys, CloudFront).
	Resources map[string]Resource

	// GlobalEnvironment holds the variables Globals gives every function;
	// each Function's Environment includes them.
	GlobalEnvironment map[string]string
}

// Parameter is one template parameter with the value it resolved to.
type Parameter struct {
	Name        string
	Type        string
	Default     string
	HasDefault  bool
	Description string
	Value       string
	// AllowedPattern is the regular expression CloudFormation holds a
	// deployed value to; empty when there is none.
	AllowedPattern string
}

// Resource is one resource of the template with its properties resolved.
type Resource struct {
	Type       string
	Properties map[string]any
}

// Function is one AWS::Serverless::Function with Globals merged in.
type Function struct {
	LogicalID   string
	Description string
	Timeout     int // seconds
	MemorySize  int // MB
	Environment map[string]string
	// LogFormat (JSON or Text) and LogLevel come from LoggingConfig; Lambda
	// hands them to the runtime as AWS_LAMBDA_LOG_FORMAT and
	// AWS_LAMBDA_LOG_LEVEL.
	LogFormat, LogLevel string
	// Policies holds the function's inline policy statements.
	Policies []Statement
	// Layers are the ARNs of the function's layers.
	Layers []string
}

// SecretsExtensionLayer is the name of AWS's Parameters and Secrets Lambda
// Extension layers (x86_64; arm64's adds "-Arm64").
const SecretsExtensionLayer = "AWS-Parameters-and-Secrets-Lambda-Extension"

// HasSecretsExtension reports whether one of the function's layers is the
// AWS Parameters and Secrets Lambda Extension, which the local stack then
// runs beside it.
func (f *Function) HasSecretsExtension() bool {
	for _, l := range f.Layers {
		if strings.Contains(l, ":layer:"+SecretsExtensionLayer+":") || strings.Contains(l, ":layer:"+SecretsExtensionLayer+"-Arm64:") {
			return true
		}
	}
	return false
}

// ExtensionReads reports whether the variable name configures the AWS
// Parameters and Secrets Lambda Extension, which reads it rather than the
// function.
func ExtensionReads(name string) bool {
	return strings.HasPrefix(name, "PARAMETERS_SECRETS_EXTENSION_") || strings.HasPrefix(name, "SECRETS_MANAGER_") ||
		strings.HasPrefix(name, "SSM_PARAMETER_STORE_")
}

// Statement is one IAM policy statement of a function.
type Statement struct {
	Effect    string
	Actions   []string
	Resources []string
	// Condition is the statement's condition block: operator, then
	// condition key, then value(s).
	Condition map[string]any
}

// Route is one HttpApi event of a function.
type Route struct {
	Function string
	Event    string
	Method   string
	Path     string
	// Public routes have Auth.Authorizer NONE and skip the JWT authorizer.
	Public bool
}

// Dir is the Go package of the function, relative to the repository root:
// functions/<logical id without "Function", in lower case>. The Makefile's
// build targets follow the same rule, so no list of functions exists
// outside template.yaml.
func (f *Function) Dir() string { return FunctionDir(f.LogicalID) }

// FunctionDir is Function.Dir for a logical id.
func FunctionDir(logicalID string) string {
	return "./functions/" + strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

// RouteKey is the API Gateway route key, for example "GET /v1/customers/{id}".
func (r Route) RouteKey() string { return r.Method + " " + r.Path }

// JWTAuthorizer is the HTTP API's default JWT authorizer.
type JWTAuthorizer struct {
	Name           string
	IdentitySource string
	Issuer         string
	Audience       []string
	Scopes         []string
}

// Throttle is the rate limit API Gateway applies to a route: a token
// bucket of BurstLimit tokens refilled at RateLimit per second.
type Throttle struct {
	RateLimit  float64
	BurstLimit int
}

// ThrottleFor returns the throttle of routeKey: its own RouteSettings, else
// the DefaultRouteSettings; ok is false when neither exists.
func (t *Template) ThrottleFor(routeKey string) (Throttle, bool) {
	if th, ok := t.Throttles[routeKey]; ok {
		return th, true
	}
	if t.DefaultThrottle != nil {
		return *t.DefaultThrottle, true
	}
	return Throttle{}, false
}

// Rule is one EventBridgeRule event of a function.
type Rule struct {
	Function string
	Event    string
	// Bus is the event bus name; "default" when the template names none.
	Bus        string
	Pattern    map[string]any
	MaxRetries int
	MaxAgeSecs int
	HasDLQ     bool
}

// Schedule is one Schedule event of a function.
type Schedule struct {
	Function   string
	Event      string
	Name       string
	Expression string
	MaxRetries int
	HasDLQ     bool
}

// Table is one AWS::DynamoDB::Table.
type Table struct {
	LogicalID    string
	Name         string
	Attributes   []Attribute
	Key          []KeyElement
	Indexes      []Index
	TTLAttribute string
	// StreamViewType is the StreamSpecification's view type (NEW_IMAGE,
	// ...); empty when the table has no stream.
	StreamViewType string
}

// Attribute is one attribute definition of a table.
type Attribute struct{ Name, Type string }

// KeyElement is one key element: KeyType is HASH or RANGE.
type KeyElement struct{ Name, KeyType string }

// Index is one global secondary index.
type Index struct {
	Name           string
	Key            []KeyElement
	ProjectionType string
}

// Load reads and resolves the template at path.
func Load(path string, opts Options) (*Template, error) {
	src, err := Read(path)
	if err != nil {
		return nil, err
	}
	return src.Resolve(opts)
}

// Source is a template read and parsed but not yet resolved, for a caller
// that learns some parameter values (the local stack: its emulator's URLs)
// only after it has read others (the permissions the emulator grants).
type Source struct {
	raw rawTemplate
}

// Read reads and parses the template at path.
func Read(path string) (*Source, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSource(data)
}

// ParseSource parses a template held in memory.
func ParseSource(data []byte) (*Source, error) {
	var src Source
	if err := yaml.Unmarshal(data, &src.raw); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return &src, nil
}

// Default returns a parameter's default value; ok is false when the
// parameter does not exist or has no default.
func (s *Source) Default(parameter string) (value string, ok bool) {
	p, exists := s.raw.Parameters[parameter]
	if !exists || p.Default.Kind == 0 {
		return "", false
	}
	return p.Default.Value, true
}

type rawTemplate struct {
	Parameters map[string]struct {
		Type           string    `yaml:"Type"`
		Default        yaml.Node `yaml:"Default"`
		Description    string    `yaml:"Description"`
		AllowedPattern string    `yaml:"AllowedPattern"`
	} `yaml:"Parameters"`
	Mappings map[string]map[string]map[string]yaml.Node `yaml:"Mappings"`
	Globals  struct {
		Function yaml.Node `yaml:"Function"`
	} `yaml:"Globals"`
	Resources map[string]struct {
		Type       string    `yaml:"Type"`
		Properties yaml.Node `yaml:"Properties"`
	} `yaml:"Resources"`
}

// Parse resolves a template held in memory.
func Parse(data []byte, opts Options) (*Template, error) {
	src, err := ParseSource(data)
	if err != nil {
		return nil, err
	}
	return src.Resolve(opts)
}

// Resolve resolves the template's intrinsic functions with opts. A Source
// may be resolved any number of times.
func (s *Source) Resolve(opts Options) (*Template, error) {
	raw := &s.raw
	if opts.Region == "" {
		opts.Region = "eu-west-1"
	}
	if opts.AccountID == "" {
		opts.AccountID = "000000000000"
	}
	if opts.StackName == "" {
		opts.StackName = "ocpro"
	}
	r := &resolver{opts: opts, params: map[string]string{}, types: map[string]string{}, mappings: raw.Mappings}
	t := &Template{Parameters: map[string]Parameter{}, Functions: map[string]*Function{}, GlobalEnvironment: map[string]string{}, Resources: map[string]Resource{}}

	for name, p := range raw.Parameters {
		param := Parameter{Name: name, Type: p.Type, Description: p.Description, AllowedPattern: p.AllowedPattern}
		if p.Default.Kind != 0 {
			param.Default, param.HasDefault = p.Default.Value, true
			param.Value = p.Default.Value
		}
		if v, ok := opts.Parameters[name]; ok {
			param.Value = v
		}
		t.Parameters[name] = param
		r.params[name] = param.Value
	}
	for id, res := range raw.Resources {
		r.types[id] = res.Type
	}

	globals, err := r.value(&raw.Globals.Function)
	if err != nil {
		return nil, fmt.Errorf("template: Globals: %w", err)
	}
	if env, ok := dig(globals, "Environment", "Variables").(map[string]any); ok {
		for k, v := range env {
			t.GlobalEnvironment[k] = str(v)
		}
	}

	ids := make([]string, 0, len(raw.Resources))
	for id := range raw.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		res := raw.Resources[id]
		props, err := r.value(&res.Properties)
		if err != nil {
			return nil, fmt.Errorf("template: %s: %w", id, err)
		}
		p, _ := props.(map[string]any)
		t.Resources[id] = Resource{Type: res.Type, Properties: p}
		switch res.Type {
		case "AWS::Serverless::Function":
			if err := t.addFunction(id, mergeGlobals(globals, p)); err != nil {
				return nil, fmt.Errorf("template: %s: %w", id, err)
			}
		case "AWS::Serverless::HttpApi":
			t.Authorizer = httpAPIAuthorizer(p)
			t.DefaultThrottle, t.Throttles = throttles(p)
		case "AWS::DynamoDB::Table":
			t.Tables = append(t.Tables, table(id, r.name(id), p))
		case "AWS::Events::EventBus":
			t.Buses = append(t.Buses, r.name(id))
		}
	}
	return t, nil
}

// Parameter values, environment and names come back as strings; anything else
// keeps the shape YAML gave it.
func (t *Template) addFunction(id string, p map[string]any) error {
	f := &Function{
		LogicalID:   id,
		Description: str(p["Description"]),
		Timeout:     num(p["Timeout"], 3),
		MemorySize:  num(p["MemorySize"], 128),
		Environment: map[string]string{},
		LogFormat:   str(dig(p, "LoggingConfig", "LogFormat")),
		LogLevel:    str(dig(p, "LoggingConfig", "ApplicationLogLevel")),
	}
	if env, ok := dig(p, "Environment", "Variables").(map[string]any); ok {
		for k, v := range env {
			f.Environment[k] = str(v)
		}
	}
	f.Layers = strs(p["Layers"])
	for _, pol := range list(p["Policies"]) {
		for _, s := range list(dig(pol, "Statement")) {
			st, _ := s.(map[string]any)
			cond, _ := st["Condition"].(map[string]any)
			f.Policies = append(f.Policies, Statement{
				Effect:    str(st["Effect"]),
				Actions:   strs(st["Action"]),
				Resources: strs(st["Resource"]),
				Condition: cond,
			})
		}
	}
	t.Functions[id] = f

	events, _ := p["Events"].(map[string]any)
	names := make([]string, 0, len(events))
	for n := range events {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		ev, _ := events[name].(map[string]any)
		props, _ := ev["Properties"].(map[string]any)
		switch str(ev["Type"]) {
		case "HttpApi":
			t.Routes = append(t.Routes, Route{
				Function: id,
				Event:    name,
				Method:   strings.ToUpper(str(props["Method"])),
				Path:     str(props["Path"]),
				Public:   str(dig(props, "Auth", "Authorizer")) == "NONE",
			})
		case "EventBridgeRule":
			bus := str(props["EventBusName"])
			if bus == "" {
				bus = "default"
			}
			pattern, _ := props["Pattern"].(map[string]any)
			t.Rules = append(t.Rules, Rule{
				Function:   id,
				Event:      name,
				Bus:        bus,
				Pattern:    pattern,
				MaxRetries: num(dig(props, "RetryPolicy", "MaximumRetryAttempts"), 185),
				MaxAgeSecs: num(dig(props, "RetryPolicy", "MaximumEventAgeInSeconds"), 86400),
				HasDLQ:     dig(props, "DeadLetterConfig") != nil,
			})
		case "Schedule":
			t.Schedules = append(t.Schedules, Schedule{
				Function:   id,
				Event:      name,
				Name:       str(props["Name"]),
				Expression: str(props["Schedule"]),
				MaxRetries: num(dig(props, "RetryPolicy", "MaximumRetryAttempts"), 185),
				HasDLQ:     dig(props, "DeadLetterConfig") != nil,
			})
		default:
			return fmt.Errorf("event %s: unsupported type %q", name, str(ev["Type"]))
		}
	}
	return nil
}

func httpAPIAuthorizer(p map[string]any) *JWTAuthorizer {
	name := str(dig(p, "Auth", "DefaultAuthorizer"))
	a, ok := dig(p, "Auth", "Authorizers", name).(map[string]any)
	if !ok {
		return nil
	}
	return &JWTAuthorizer{
		Name:           name,
		IdentitySource: str(a["IdentitySource"]),
		Issuer:         str(dig(a, "JwtConfiguration", "issuer")),
		Audience:       strs(dig(a, "JwtConfiguration", "audience")),
		Scopes:         strs(a["AuthorizationScopes"]),
	}
}

// throttles reads an HttpApi's DefaultRouteSettings and RouteSettings.
func throttles(p map[string]any) (*Throttle, map[string]Throttle) {
	read := func(v any) (Throttle, bool) {
		m, ok := v.(map[string]any)
		if !ok {
			return Throttle{}, false
		}
		_, hasRate := m["ThrottlingRateLimit"]
		_, hasBurst := m["ThrottlingBurstLimit"]
		return Throttle{RateLimit: float(m["ThrottlingRateLimit"]), BurstLimit: num(m["ThrottlingBurstLimit"], 0)}, hasRate || hasBurst
	}
	var def *Throttle
	if th, ok := read(p["DefaultRouteSettings"]); ok {
		def = &th
	}
	routes := map[string]Throttle{}
	if m, ok := p["RouteSettings"].(map[string]any); ok {
		for key, v := range m {
			if th, ok := read(v); ok {
				routes[key] = th
			}
		}
	}
	return def, routes
}

func table(id, name string, p map[string]any) Table {
	t := Table{LogicalID: id, Name: name}
	if n := str(p["TableName"]); n != "" {
		t.Name = n
	}
	for _, a := range list(p["AttributeDefinitions"]) {
		m, _ := a.(map[string]any)
		t.Attributes = append(t.Attributes, Attribute{Name: str(m["AttributeName"]), Type: str(m["AttributeType"])})
	}
	t.Key = keySchema(p["KeySchema"])
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		m, _ := g.(map[string]any)
		t.Indexes = append(t.Indexes, Index{
			Name:           str(m["IndexName"]),
			Key:            keySchema(m["KeySchema"]),
			ProjectionType: str(dig(m, "Projection", "ProjectionType")),
		})
	}
	if on, _ := dig(p, "TimeToLiveSpecification", "Enabled").(bool); on {
		t.TTLAttribute = str(dig(p, "TimeToLiveSpecification", "AttributeName"))
	}
	t.StreamViewType = str(dig(p, "StreamSpecification", "StreamViewType"))
	return t
}

func keySchema(v any) []KeyElement {
	var ks []KeyElement
	for _, k := range list(v) {
		m, _ := k.(map[string]any)
		ks = append(ks, KeyElement{Name: str(m["AttributeName"]), KeyType: str(m["KeyType"])})
	}
	return ks
}

// mergeGlobals applies SAM's Globals rules for the keys this template uses:
// maps merge (the function wins), everything else is replaced by the function.
func mergeGlobals(globals any, fn map[string]any) map[string]any {
	g, _ := globals.(map[string]any)
	out := map[string]any{}
	for k, v := range g {
		out[k] = v
	}
	for k, v := range fn {
		gm, gok := out[k].(map[string]any)
		fm, fok := v.(map[string]any)
		if gok && fok {
			out[k] = mergeMaps(gm, fm)
			continue
		}
		out[k] = v
	}
	return out
}

func mergeMaps(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		am, aok := out[k].(map[string]any)
		bm, bok := v.(map[string]any)
		if aok && bok {
			out[k] = mergeMaps(am, bm)
			continue
		}
		out[k] = v
	}
	return out
}

// resolver turns YAML nodes into plain Go values, resolving intrinsics.
type resolver struct {
	opts     Options
	params   map[string]string
	types    map[string]string
	mappings map[string]map[string]map[string]yaml.Node
}

func (r *resolver) name(id string) string {
	if n, ok := r.opts.Names[id]; ok {
		return n
	}
	return id
}

func (r *resolver) value(n *yaml.Node) (any, error) {
	if n == nil || n.Kind == 0 {
		return nil, nil
	}
	switch n.Tag {
	case "!Ref":
		return r.ref(n.Value)
	case "!Sub":
		return r.sub(n)
	case "!GetAtt":
		return r.getAtt(n.Value)
	case "!Select", "!Split", "!Join":
		return r.list(n.Tag[1:], n)
	case "!FindInMap":
		return r.findInMap(n)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return r.value(n.Content[0])
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch k {
			case "Ref":
				return r.ref(v.Value)
			case "Fn::Sub":
				return r.sub(v)
			case "Fn::GetAtt":
				return r.getAtt(v.Value)
			case "Fn::Select", "Fn::Split", "Fn::Join":
				return r.list(strings.TrimPrefix(k, "Fn::"), v)
			case "Fn::FindInMap":
				return r.findInMap(v)
			}
			val, err := r.value(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			m[k] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := r.value(c)
			if err != nil {
				return nil, err
			}
			l = append(l, val)
		}
		return l, nil
	case yaml.AliasNode:
		return r.value(n.Alias)
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// list resolves Fn::Select, Fn::Split and Fn::Join, whose arguments are a
// list of two.
func (r *resolver) list(fn string, n *yaml.Node) (any, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 2 {
		return nil, fmt.Errorf("the arguments of Fn::%s are not a list of two", fn)
	}
	first, err := r.value(n.Content[0])
	if err != nil {
		return nil, err
	}
	second, err := r.value(n.Content[1])
	if err != nil {
		return nil, err
	}
	switch fn {
	case "Split":
		parts := strings.Split(str(second), str(first))
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, nil
	case "Join":
		return strings.Join(strs(second), str(first)), nil
	}
	// An index past the end resolves to nothing rather than failing: a
	// reader that left a parameter empty (PublicBaseUrl split on "/") still
	// gets the parts of the template it needs.
	i := num(first, -1)
	l := list(second)
	if i < 0 || i >= len(l) {
		return nil, nil
	}
	return l[i], nil
}

// findInMap resolves Fn::FindInMap [map, top-level key, second-level key];
// a key the map lacks fails, as it fails the deployment.
func (r *resolver) findInMap(n *yaml.Node) (any, error) {
	if n.Kind != yaml.SequenceNode || len(n.Content) != 3 {
		return nil, fmt.Errorf("the arguments of Fn::FindInMap are not a list of three")
	}
	keys := make([]string, 3)
	for i, c := range n.Content {
		v, err := r.value(c)
		if err != nil {
			return nil, err
		}
		keys[i] = str(v)
	}
	v, ok := r.mappings[keys[0]][keys[1]][keys[2]]
	if !ok {
		return nil, fmt.Errorf("Fn::FindInMap: mapping %s has no %s.%s", keys[0], keys[1], keys[2])
	}
	return r.value(&v)
}

func (r *resolver) ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return r.opts.Region, nil
	case "AWS::AccountId":
		return r.opts.AccountID, nil
	case "AWS::StackName":
		return r.opts.StackName, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-4000-8000-000000000000", r.opts.Region, r.opts.AccountID, r.opts.StackName), nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if _, ok := r.types[name]; ok {
		return r.name(name), nil
	}
	return nil, fmt.Errorf("!Ref %s: no such parameter or resource", name)
}

func (r *resolver) getAtt(expr string) (any, error) {
	id, attr, ok := strings.Cut(expr, ".")
	typ, known := r.types[id]
	if !ok || !known {
		return nil, fmt.Errorf("!GetAtt %s: no such resource", expr)
	}
	name := r.name(id)
	if attr == "StreamArn" && typ == "AWS::DynamoDB::Table" {
		// The stream's label is the time it was enabled; locally it is fixed.
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/%s", r.opts.Region, r.opts.AccountID, name, LocalStreamLabel), nil
	}
	if attr != "Arn" {
		return name, nil
	}
	switch typ {
	case "AWS::DynamoDB::Table":
		return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", r.opts.Region, r.opts.AccountID, name), nil
	case "AWS::Events::EventBus":
		return fmt.Sprintf("arn:aws:events:%s:%s:event-bus/%s", r.opts.Region, r.opts.AccountID, name), nil
	case "AWS::SQS::Queue":
		return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", r.opts.Region, r.opts.AccountID, name), nil
	case "AWS::KMS::Key":
		return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", r.opts.Region, r.opts.AccountID, name), nil
	case "AWS::S3::Bucket":
		return "arn:aws:s3:::" + name, nil
	}
	return fmt.Sprintf("arn:aws:local:%s:%s:%s", r.opts.Region, r.opts.AccountID, name), nil
}

func (r *resolver) sub(n *yaml.Node) (any, error) {
	if n.Kind != yaml.ScalarNode {
		return nil, fmt.Errorf("!Sub with a variable map is not supported")
	}
	s := n.Value
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return nil, fmt.Errorf("!Sub %q: unclosed ${", n.Value)
		}
		b.WriteString(s[:i])
		expr := s[i+2 : i+j]
		var v any
		var err error
		if strings.Contains(expr, ".") && !strings.HasPrefix(expr, "AWS::") {
			v, err = r.getAtt(expr)
		} else {
			v, err = r.ref(expr)
		}
		if err != nil {
			return nil, err
		}
		b.WriteString(str(v))
		s = s[i+j+1:]
	}
	return b.String(), nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case nil:
		return nil
	default:
		return []any{l}
	}
}

func str(v any) string {
	switch s := v.(type) {
	case nil:
		return ""
	case string:
		return s
	default:
		return fmt.Sprint(s)
	}
}

func strs(v any) []string {
	var out []string
	for _, x := range list(v) {
		out = append(out, str(x))
	}
	return out
}

func float(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f
		}
	}
	return 0
}

func num(v any, def int) int {
	switch n := v.(type) {
	case int:
		return n
	case string:
		if i, err := strconv.Atoi(n); err == nil {
			return i
		}
	}
	return def
}

// StreamTable returns the table name of a DynamoDB stream ARN
// (arn:aws:dynamodb:region:account:table/NAME/stream/LABEL); ok is false
// for any other ARN. Locally the label is LocalStreamLabel, not the real
// stream's, which exists only once the stack has created the table: a
// reader of the stream looks the current one up by table name.
func StreamTable(arn string) (table string, ok bool) {
	_, rest, found := strings.Cut(arn, ":table/")
	if !found || !strings.HasPrefix(arn, "arn:aws:dynamodb:") {
		return "", false
	}
	table, label, found := strings.Cut(rest, "/stream/")
	if !found || table == "" || label == "" || strings.Contains(label, "/") {
		return "", false
	}
	return table, true
}
