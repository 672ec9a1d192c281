package template

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// codeMap reads the "Code map" section of README.md: the text under each
// "### <logical id>" heading, by logical id.
func codeMap(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Code map\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Code map" section`)
	}
	section := readme[start+len("\n## Code map\n"):]
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	sections := map[string]string{}
	for _, part := range strings.Split(section, "\n### ")[1:] {
		heading, body, _ := strings.Cut(part, "\n")
		sections[strings.TrimSpace(heading)] = body
	}
	return sections
}

// TestCodeMapCoversTheTemplate: the README's code map has a section for
// every function of template.yaml that names every route, rule (with each
// of its own events' detail types) and schedule of the function and no
// route the function does not have, and its glue package is one the
// function imports, so that a reader can follow any trigger to its use
// case.
func TestCodeMapCoversTheTemplate(t *testing.T) {
	t.Parallel()
	tp := load(t)
	sections := codeMap(t)
	for id := range sections {
		if tp.Functions[id] == nil {
			t.Errorf("the code map has a section for %s, which template.yaml does not define", id)
		}
	}
	has := func(fn, text string) bool { return strings.Contains(sections[fn], text) }
	for id := range tp.Functions {
		if _, ok := sections[id]; !ok {
			t.Errorf("the code map has no section for %s", id)
			continue
		}
		glue := regexp.MustCompile("Glue: [^(]*\\(`(internal/[a-z/]+)`\\)").FindStringSubmatch(sections[id])
		if glue == nil {
			t.Errorf("the code map names no glue package (Glue: `x.Handler` (`internal/x`)) for %s", id)
		} else if imports := packageImports(t, FunctionDir(id)); !slices.Contains(imports, "github.com/ocpro/upgrade/"+glue[1]) {
			t.Errorf("the code map's glue of %s is %s, which %s does not import", id, glue[1], FunctionDir(id))
		}
	}
	routes := map[string]string{} // route key -> function
	for _, r := range tp.Routes {
		routes[r.RouteKey()] = r.Function
		if !has(r.Function, "`"+r.RouteKey()+"`") {
			t.Errorf("the code map of %s lacks the route %s", r.Function, r.RouteKey())
		}
	}
	for _, r := range tp.Rules {
		if !has(r.Function, "`"+r.Event+"` rule") {
			t.Errorf("the code map of %s lacks the rule %s", r.Function, r.Event)
		}
		sources, _ := r.Pattern["source"].([]any)
		types, _ := r.Pattern["detail-type"].([]any)
		for _, src := range sources {
			if !strings.HasPrefix(src.(string), "ocpro.") {
				continue // AWS's events are named as a group
			}
			for _, dt := range types {
				if !has(r.Function, "`"+r.Event+"` rule: "+dt.(string)+" |") {
					t.Errorf("the code map of %s lacks a row for %s of the rule %s", r.Function, dt, r.Event)
				}
			}
		}
	}
	for _, s := range tp.Schedules {
		if !has(s.Function, "`"+s.Event+"` schedule") {
			t.Errorf("the code map of %s lacks the schedule %s", s.Function, s.Event)
		}
	}
	routeKey := regexp.MustCompile("`((?:GET|POST|PUT|PATCH|DELETE) /[^`]*)`")
	for id, body := range sections {
		for _, m := range routeKey.FindAllStringSubmatch(body, -1) {
			if fn, ok := routes[m[1]]; !ok || fn != id {
				t.Errorf("the code map of %s names %s, which is not a route of %s in template.yaml", id, m[1], id)
			}
		}
	}
}

// TestCodeMapNamesExist: every Go name of the code map (`pkg.Type`,
// `pkg.Func` or `pkg.Type.Method`, pkg being a package of internal/) is
// declared in the code, so a rename cannot leave the map pointing nowhere.
func TestCodeMapNamesExist(t *testing.T) {
	t.Parallel()
	decls := internalDecls(t)
	name := regexp.MustCompile("`([a-z]+)\\.([A-Z][A-Za-z0-9]*)(?:\\.([A-Z][A-Za-z0-9]*))?`")
	n := 0
	for id, body := range codeMap(t) {
		for _, m := range name.FindAllStringSubmatch(body, -1) {
			n++
			pkg, ok := decls[m[1]]
			if !ok {
				t.Errorf("%s: %s names the package %s, which internal/ does not have", id, m[0], m[1])
				continue
			}
			want := m[2]
			if m[3] != "" {
				want += "." + m[3]
			}
			if !pkg[want] {
				t.Errorf("%s: %s is not declared in the package %s", id, m[0], m[1])
			}
		}
	}
	if n < 20 {
		t.Errorf("found only %d Go names in the code map; the check would pass vacuously", n)
	}
}

// internalDecls maps each package name under internal/ to its top-level
// names (types, functions) and methods ("Type.Method"), from its non-test
// Go files.
func internalDecls(t *testing.T) map[string]map[string]bool {
	t.Helper()
	decls := map[string]map[string]bool{}
	fset := token.NewFileSet()
	root := filepath.Join("..", "..", "internal")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		names := decls[f.Name.Name]
		if names == nil {
			names = map[string]bool{}
			decls[f.Name.Name] = names
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
					continue
				}
				recv := d.Recv.List[0].Type
				if star, ok := recv.(*ast.StarExpr); ok {
					recv = star.X
				}
				if ident, ok := recv.(*ast.Ident); ok {
					names[ident.Name+"."+d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok {
						names[ts.Name.Name] = true
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return decls
}

// packageImports lists the imports of the Go package in dir (relative to
// the repository root).
func packageImports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var imports []string
	fset := token.NewFileSet()
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			imports = append(imports, p)
		}
	}
	return imports
}
