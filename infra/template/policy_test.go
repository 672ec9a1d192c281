package template

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sdkServices maps an aws-sdk-go-v2 service package to its IAM prefix.
var sdkServices = map[string]string{
	"github.com/aws/aws-sdk-go-v2/service/dynamodb":       "dynamodb",
	"github.com/aws/aws-sdk-go-v2/service/sesv2":          "ses",
	"github.com/aws/aws-sdk-go-v2/service/eventbridge":    "events",
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager": "secretsmanager",
	"github.com/aws/aws-sdk-go-v2/service/kms":            "kms",
}

// extensionCalls are this module's packages that make an AWS call without
// the SDK, by the IAM prefix of that call: internal/secret builds its own
// GetSecretValueInput for every read through the AWS Parameters and
// Secrets Lambda Extension, which makes that very call with the
// function's role, so the function's policy must allow it on the same
// secrets.
var extensionCalls = map[string]string{
	"github.com/ocpro/upgrade/internal/secret": "secretsmanager",
}

// transactItems are the DynamoDB transaction parts, each of which IAM
// authorizes as its single-item action.
var transactItems = map[string]string{
	"Put":            "dynamodb:PutItem",
	"Update":         "dynamodb:UpdateItem",
	"Delete":         "dynamodb:DeleteItem",
	"ConditionCheck": "dynamodb:ConditionCheckItem",
	"Get":            "dynamodb:GetItem",
}

// wildcardAllowed lists the actions that AWS only authorizes on "*".
var wildcardAllowed = map[string]bool{
	"ses:GetAccount":       true,
	"dynamodb:ListStreams": true,
}

// TestPoliciesNameActionsAndResources fails on a wildcard action, and on a
// wildcard resource where AWS does not require one.
func TestPoliciesNameActionsAndResources(t *testing.T) {
	t.Parallel()
	tp := load(t)
	for id, fn := range tp.Functions {
		for _, st := range fn.Policies {
			for _, a := range st.Actions {
				if strings.Contains(a, "*") {
					t.Errorf("%s: wildcard action %q", id, a)
				}
			}
			for _, r := range st.Resources {
				if !strings.Contains(r, "*") {
					continue
				}
				for _, a := range st.Actions {
					if !wildcardAllowed[a] {
						t.Errorf("%s: %s on wildcard resource %q; name the resource", id, a, r)
					}
				}
			}
		}
	}
}

// TestPoliciesMatchTheCode compares, for every function, the AWS actions its
// policy grants with the SDK operations its code can call (found by reading
// the non-test Go files of every package the function links). A permission
// the code never uses fails, and so does a call the policy does not allow.
func TestPoliciesMatchTheCode(t *testing.T) {
	t.Parallel()
	tp := load(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for id, fn := range tp.Functions {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			dir := "./functions/" + strings.ToLower(strings.TrimSuffix(id, "Function"))
			used := actionsUsed(t, root, dir)
			granted := map[string]bool{}
			for _, st := range fn.Policies {
				if st.Effect != "Allow" {
					continue
				}
				for _, a := range st.Actions {
					granted[a] = true
				}
			}
			for a := range used {
				if !granted[a] {
					t.Errorf("the code calls %s but the policy does not allow it", a)
				}
			}
			for a := range granted {
				if !used[a] {
					t.Errorf("the policy grants %s but the code never calls it", a)
				}
			}
		})
	}
}

// actionsUsed lists the IAM actions of the SDK operations that the program
// at dir can reach. It reads the non-test Go files of every package of this
// module the program links and follows references from main: a call or
// reference to pkg.Func goes to that function; x.Method goes to every method
// of that name in the linked packages (interfaces make the receiver unknown,
// so this errs on the side of reaching too much, never too little). An SDK
// operation counts as used where a reached function builds its input
// (&dynamodb.PutItemInput{...}) or a transaction part (types.Put{...}).
func actionsUsed(t *testing.T, root, dir string) map[string]bool {
	t.Helper()
	used, _ := programGraph(t, root, dir)
	return used
}

// programGraph builds the reference graph of the program at dir and walks
// it from main; it returns the IAM actions used and the graph, whose
// reached functions the other checks read.
func programGraph(t *testing.T, root, dir string) (map[string]bool, *callGraph) {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Dir,GoFiles,Module", dir)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", dir, err)
	}
	g := &callGraph{funcs: map[string]*funcInfo{}, methods: map[string][]string{}, types: map[string]bool{}, typeMethods: map[string][]string{}, consts: map[string]string{}}
	var mainPkg string
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var pkg struct {
			ImportPath, Name, Dir string
			GoFiles               []string
			Module                *struct{ Path string }
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		// Only this module's code decides what the function calls.
		if pkg.Module == nil || pkg.Module.Path != "github.com/ocpro/upgrade" {
			continue
		}
		if pkg.Name == "main" {
			mainPkg = pkg.ImportPath
		}
		for _, f := range pkg.GoFiles {
			g.addFile(t, pkg.ImportPath, filepath.Join(pkg.Dir, f))
		}
	}
	return g.reach(append([]string{mainPkg + ".main"}, g.roots...)), g
}

// reach walks the graph from roots, Rapid Type Analysis style: a method is
// reached when its name is referenced from reached code and its type is
// used (named) by reached code, so that one package's Send does not drag
// in every other Send.
func (g *callGraph) reach(roots []string) map[string]bool {
	used := map[string]bool{}
	reached := map[string]bool{}
	live := map[string]bool{}
	names := map[string]bool{}
	work := roots
	for len(work) > 0 {
		id := work[len(work)-1]
		work = work[:len(work)-1]
		if name, ok := strings.CutPrefix(id, "method:"); ok {
			if !names[name] {
				names[name] = true
				for _, m := range g.methods[name] {
					if live[g.funcs[m].typ] {
						work = append(work, m)
					}
				}
			}
			continue
		}
		if g.types[id] && !live[id] {
			live[id] = true
			for _, m := range g.typeMethods[id] {
				if names[g.funcs[m].name] {
					work = append(work, m)
				}
			}
		}
		fn, ok := g.funcs[id]
		if !ok || reached[id] {
			continue
		}
		reached[id] = true
		g.reached = append(g.reached, fn)
		for _, a := range fn.actions {
			used[a] = true
		}
		work = append(work, fn.refs...)
	}
	// The transaction calls themselves need no action of their own: IAM
	// authorizes each part.
	delete(used, "dynamodb:TransactWriteItems")
	delete(used, "dynamodb:TransactGetItems")
	return used
}

// callGraph is a name-based reference graph of the module's functions.
type callGraph struct {
	funcs       map[string]*funcInfo // "path.Func" or "path.Type.Method"
	methods     map[string][]string  // method name -> ids
	types       map[string]bool      // declared types, "path.Type"
	typeMethods map[string][]string  // "path.Type" -> method ids
	roots       []string             // package-level initialisers and init funcs
	consts      map[string]string    // "path.Name" -> value of a string constant
	reached     []*funcInfo          // filled by reach
}

type funcInfo struct {
	typ, name string // for methods: "path.Type" and the method name
	refs      []string
	actions   []string
	// purposes are the "purpose" values of the encryption contexts the
	// body builds; opens and seals those of its Sealer.Open and
	// Sealer.Seal calls, where openVia and sealVia name the functions that
	// build the context passed.
	purposes         []string
	opens, seals     []string
	openVia, sealVia []string
	// queries are the indexes its store queries name ("" for the table,
	// "?" when the index is chosen at run time); queryConsts name the
	// constants that hold one.
	queries, queryConsts []string
}

func (g *callGraph) addFile(t *testing.T, pkgPath, path string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]string{} // local name -> import path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := filepath.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = p
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			id := pkgPath + "." + d.Name.Name
			info := g.scan(pkgPath, imports, d.Body)
			if d.Recv != nil {
				info.typ, info.name = pkgPath+"."+recvName(d.Recv), d.Name.Name
				id = info.typ + "." + d.Name.Name
				g.methods[d.Name.Name] = append(g.methods[d.Name.Name], id)
				g.typeMethods[info.typ] = append(g.typeMethods[info.typ], id)
			} else if d.Name.Name == "init" {
				id = pkgPath + ".init." + path
				g.roots = append(g.roots, id)
			}
			g.funcs[id] = info
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				if ts, ok := spec.(*ast.TypeSpec); ok {
					g.types[pkgPath+"."+ts.Name.Name] = true
				}
				if vs, ok := spec.(*ast.ValueSpec); ok && d.Tok == token.CONST {
					for i, name := range vs.Names {
						if i < len(vs.Values) {
							if s, ok := stringLit(vs.Values[i]); ok {
								g.consts[pkgPath+"."+name.Name] = s
							}
						}
					}
				}
			}
			if d.Tok == token.TYPE {
				// A type's declaration refers to the types of its fields,
				// which says nothing about what code runs.
				continue
			}
			// Package-level values (route tables, defaults) count as reached.
			id := pkgPath + ".var." + path + "." + strconv.Itoa(int(d.Pos()))
			g.funcs[id] = g.scan(pkgPath, imports, d)
			g.roots = append(g.roots, id)
		}
	}
}

// scan collects what a body refers to and the SDK inputs it builds.
func (g *callGraph) scan(pkgPath string, imports map[string]string, body ast.Node) *funcInfo {
	fi := &funcInfo{}
	if body == nil {
		return fi
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			if k, ok := stringLit(n.Key); ok && k == "purpose" {
				if v, ok := stringLit(n.Value); ok {
					fi.purposes = append(fi.purposes, v)
				} else {
					fi.purposes = append(fi.purposes, "?")
				}
			}
		case *ast.CallExpr:
			g.scanCall(pkgPath, imports, fi, n)
		case *ast.CompositeLit:
			if a, ok := sdkAction(pkgPath, imports, n.Type); ok {
				fi.actions = append(fi.actions, a)
			}
		case *ast.SelectorExpr:
			if x, ok := n.X.(*ast.Ident); ok {
				if p, ok := imports[x.Name]; ok {
					fi.refs = append(fi.refs, p+"."+n.Sel.Name)
					return false
				}
			}
			fi.refs = append(fi.refs, g.methodRefs(n.Sel.Name)...)
		case *ast.Ident:
			fi.refs = append(fi.refs, pkgPath+"."+n.Name)
		}
		return true
	})
	return fi
}

// scanCall records the purposes of a Sealer's Seal and Open calls and the
// index of a store query (the store's query(table, index) helper).
func (g *callGraph) scanCall(pkgPath string, imports map[string]string, fi *funcInfo, call *ast.CallExpr) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return
	}
	if sel.Sel.Name == "query" && len(call.Args) == 2 {
		switch a := call.Args[1].(type) {
		case *ast.BasicLit:
			s, _ := stringLit(a)
			fi.queries = append(fi.queries, s)
		case *ast.Ident:
			fi.queryConsts = append(fi.queryConsts, pkgPath+"."+a.Name)
		default:
			fi.queries = append(fi.queries, "?")
		}
		return
	}
	if (sel.Sel.Name != "Seal" && sel.Sel.Name != "Open") || len(call.Args) != 3 || !strings.EqualFold(lastName(sel.X), "sealer") {
		return
	}
	var purposes, via []string
	ast.Inspect(call.Args[2], func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			if k, ok := stringLit(n.Key); ok && k == "purpose" {
				v, ok := stringLit(n.Value)
				if !ok {
					v = "?"
				}
				purposes = append(purposes, v)
			}
		case *ast.CallExpr:
			switch f := n.Fun.(type) {
			case *ast.Ident:
				via = append(via, pkgPath+"."+f.Name)
			case *ast.SelectorExpr:
				if x, ok := f.X.(*ast.Ident); ok && imports[x.Name] != "" {
					via = append(via, imports[x.Name]+"."+f.Sel.Name)
				}
			}
		}
		return true
	})
	if len(purposes) == 0 && len(via) == 0 {
		// A context built elsewhere (a variable) cannot be told here.
		purposes = []string{"?"}
	}
	if sel.Sel.Name == "Open" {
		fi.opens, fi.openVia = append(fi.opens, purposes...), append(fi.openVia, via...)
	} else {
		fi.seals, fi.sealVia = append(fi.seals, purposes...), append(fi.sealVia, via...)
	}
}

// lastName is the last identifier of x.y.z.
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// purposes returns the purposes the reached code opens and seals.
func (g *callGraph) purposes() (opens, seals map[string]bool) {
	opens, seals = map[string]bool{}, map[string]bool{}
	add := func(into map[string]bool, direct, via []string) {
		for _, p := range direct {
			into[p] = true
		}
		for _, id := range via {
			if f, ok := g.funcs[id]; ok {
				for _, p := range f.purposes {
					into[p] = true
				}
			}
		}
	}
	for _, f := range g.reached {
		add(opens, f.opens, f.openVia)
		add(seals, f.seals, f.sealVia)
	}
	return opens, seals
}

// queries returns the indexes the reached code queries: "" for the table
// itself, "?" for an index chosen at run time.
func (g *callGraph) queries() map[string]bool {
	out := map[string]bool{}
	for _, f := range g.reached {
		for _, q := range f.queries {
			out[q] = true
		}
		for _, c := range f.queryConsts {
			if v, ok := g.consts[c]; ok {
				out[v] = true
			} else {
				out["?"] = true
			}
		}
	}
	return out
}

// methodRefs is resolved during the walk, once every package is read.
func (g *callGraph) methodRefs(name string) []string { return []string{"method:" + name} }

func recvName(fl *ast.FieldList) string {
	t := fl.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	if ix, ok := t.(*ast.IndexListExpr); ok {
		t = ix.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name
	}
	return "?"
}

// sdkAction names the IAM action of an SDK input or transaction part type.
func sdkAction(pkgPath string, imports map[string]string, typ ast.Expr) (string, bool) {
	if id, ok := typ.(*ast.Ident); ok {
		if prefix, ok := extensionCalls[pkgPath]; ok && strings.HasSuffix(id.Name, "Input") {
			return prefix + ":" + strings.TrimSuffix(id.Name, "Input"), true
		}
		return "", false
	}
	sel, ok := typ.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	x, ok := sel.X.(*ast.Ident)
	if !ok {
		return "", false
	}
	path := imports[x.Name]
	prefix, ok := sdkServices[path]
	if !ok {
		prefix, ok = extensionCalls[path]
	}
	if ok && strings.HasSuffix(sel.Sel.Name, "Input") {
		return prefix + ":" + strings.TrimSuffix(sel.Sel.Name, "Input"), true
	}
	if path == "github.com/aws/aws-sdk-go-v2/service/dynamodb/types" {
		a, ok := transactItems[sel.Sel.Name]
		return a, ok
	}
	return "", false
}

// purposeKey is the condition key naming the purpose of a sealed value
// (internal/seal: every encryption context carries one).
const purposeKey = "kms:EncryptionContext:purpose"

// TestKMSGrantsMatchThePurposesOpened holds each function's KMS grants to
// the purposes its code opens (kms:Decrypt) and seals
// (kms:GenerateDataKey), found in the encryption contexts of its Sealer
// calls: a function able to decrypt a purpose it never opens fails, and so
// does a grant with no purpose condition at all.
func TestKMSGrantsMatchThePurposesOpened(t *testing.T) {
	t.Parallel()
	tp := load(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	opened := 0
	for id, fn := range tp.Functions {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			_, g := programGraph(t, root, fn.Dir())
			opens, seals := g.purposes()
			if opens["?"] || seals["?"] {
				t.Fatalf("a Seal or Open call's encryption context names no literal purpose (opens %v, seals %v)", opens, seals)
			}
			if len(opens) > 0 {
				opened++
			}
			for action, want := range map[string]map[string]bool{"kms:Decrypt": opens, "kms:GenerateDataKey": seals} {
				granted := map[string]bool{}
				for _, st := range fn.Policies {
					if st.Effect != "Allow" || !slices.Contains(st.Actions, action) {
						continue
					}
					cond, _ := st.Condition["StringEquals"].(map[string]any)
					ps := strs(cond[purposeKey])
					if len(ps) == 0 {
						t.Errorf("%s is granted on any purpose; condition it on %s", action, purposeKey)
					}
					for _, p := range ps {
						granted[p] = true
					}
				}
				for p := range granted {
					if !want[p] {
						t.Errorf("%s is granted for purpose %q, which the code never %s", action, p, map[string]string{"kms:Decrypt": "opens", "kms:GenerateDataKey": "seals"}[action])
					}
				}
				for p := range want {
					if !granted[p] {
						t.Errorf("the code needs %s for purpose %q, which the policy does not grant", action, p)
					}
				}
			}
		})
	}
	t.Cleanup(func() {
		if opened == 0 && !t.Failed() {
			t.Error("no function opens anything; the check would pass vacuously")
		}
	})
}

// itemActions work on items, which only a table has: on an index ARN
// they grant nothing a function could need.
var itemActions = map[string]bool{
	"dynamodb:GetItem": true, "dynamodb:PutItem": true, "dynamodb:UpdateItem": true, "dynamodb:DeleteItem": true,
	"dynamodb:ConditionCheckItem": true, "dynamodb:BatchGetItem": true, "dynamodb:BatchWriteItem": true,
}

// TestPoliciesGrantOnlyTheResourcesUsed fails on DynamoDB grants on
// resources the function's code never touches that way: item actions on an
// index, a Query of the table where the code only queries indexes, a Query
// of an index the code never names (or the reverse: a query the policy does
// not allow).
func TestPoliciesGrantOnlyTheResourcesUsed(t *testing.T) {
	t.Parallel()
	tp := load(t)
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	table := "arn:aws:dynamodb:eu-west-1:000000000000:table/local-table"
	for id, fn := range tp.Functions {
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			_, g := programGraph(t, root, fn.Dir())
			queried := g.queries()
			granted := map[string]bool{} // "" for the table, else the index
			for _, st := range fn.Policies {
				if st.Effect != "Allow" {
					continue
				}
				for _, r := range st.Resources {
					index, isIndex := strings.CutPrefix(r, table+"/index/")
					if !isIndex {
						index = ""
					}
					for _, a := range st.Actions {
						if isIndex && itemActions[a] {
							t.Errorf("%s on the index %s: an index has no items", a, index)
						}
						if a == "dynamodb:Query" && (isIndex || r == table) {
							granted[index] = true
						}
					}
				}
			}
			for q := range granted {
				if !queried[q] && (q == "" || !queried["?"]) {
					t.Errorf("Query is granted on %s, which the code never queries", orTable(q))
				}
			}
			for q := range queried {
				if q != "?" && !granted[q] {
					t.Errorf("the code queries %s, which the policy does not allow", orTable(q))
				}
			}
		})
	}
}

func orTable(index string) string {
	if index == "" {
		return "the table"
	}
	return "the index " + index
}
