package template

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// scanUses returns where a Go source builds a DynamoDB Scan: a ScanInput
// literal (or new(ScanInput)), a Scan paginator, or a call .Scan(ctx, in,
// ...) with the client's arguments. Without type information the last is
// told apart from bufio.Scanner.Scan() by its arguments; this module has no
// other Scan method that takes any.
func scanUses(name string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	imports := map[string]string{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		local := filepath.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		imports[local] = p
	}
	isDynamo := func(e ast.Expr, name string) bool {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != name {
			return false
		}
		x, ok := sel.X.(*ast.Ident)
		return ok && imports[x.Name] == "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	}
	var uses []string
	at := func(n ast.Node, what string) {
		uses = append(uses, fset.Position(n.Pos()).String()+": "+what)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CompositeLit:
			if a, ok := sdkAction("", imports, n.Type); ok && a == "dynamodb:Scan" {
				at(n, "builds a dynamodb.ScanInput")
			}
		case *ast.CallExpr:
			switch fun := n.Fun.(type) {
			case *ast.Ident:
				if fun.Name == "new" && len(n.Args) == 1 && isDynamo(n.Args[0], "ScanInput") {
					at(n, "builds a dynamodb.ScanInput")
				}
			case *ast.SelectorExpr:
				switch {
				case isDynamo(fun, "NewScanPaginator"):
					at(n, "pages through a Scan")
				case fun.Sel.Name == "Scan" && len(n.Args) >= 2:
					at(n, "calls .Scan on a DynamoDB client")
				}
			}
		}
		return true
	})
	return uses, nil
}

// TestScanUsesFindsScans shows what scanUses reports and what it leaves
// alone, so that TestNoScanAnywhere cannot pass by finding nothing.
func TestScanUsesFindsScans(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		want int
	}{
		{name: "a Scan call with its input", want: 2, src: `package p
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
func f(db *dynamodb.Client) { db.Scan(ctx, &dynamodb.ScanInput{TableName: nil}) }`},
		{name: "an input made with new", want: 1, src: `package p
import ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
var in = new(ddb.ScanInput)`},
		{name: "a Scan paginator", want: 1, src: `package p
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
func f(db *dynamodb.Client, in *dynamodb.ScanInput) { _ = dynamodb.NewScanPaginator(db, in) }`},
		{name: "a Query is no Scan", want: 0, src: `package p
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
func f(db *dynamodb.Client) { db.Query(ctx, &dynamodb.QueryInput{}) }`},
		{name: "reading lines is no Scan", want: 0, src: `package p
import "bufio"
func f(s *bufio.Scanner) { for s.Scan() {} }`},
		{name: "naming the type in a switch builds nothing", want: 0, src: `package p
import "github.com/aws/aws-sdk-go-v2/service/dynamodb"
func f(v any) { switch v.(type) { case *dynamodb.ScanInput: } }`},
		{name: "another package's ScanInput", want: 0, src: `package p
import "example.com/other/dynamodb"
var in = dynamodb.ScanInput{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := scanUses("p.go", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("found %d uses, want %d: %v", len(got), tt.want, got)
			}
		})
	}
}

// TestNoScanAnywhere fails when any non-test Go file of this module builds
// a DynamoDB Scan: every read goes by key or index, so that its
// cost follows what it returns, not the table's size.
func TestNoScanAnywhere(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata" || name == "vendor" ||
				isFile(filepath.Join(path, "go.mod"))) {
				// Hidden folders, npm packages, fixtures and other modules
				// (tools/) are not this module's code.
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		uses, err := scanUses(path, src)
		if err != nil {
			return err
		}
		for _, u := range uses {
			t.Errorf("%s: a Scan reads the whole table; use a key or an index", u)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The walk must have reached the code that talks to DynamoDB.
	if files < 20 || !isFile(filepath.Join(root, "internal", "store", "store.go")) {
		t.Fatalf("walked %d Go files under %s; the module's code was not found", files, root)
	}
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
