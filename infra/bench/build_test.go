package bench

import (
	"slices"
	"strings"
	"testing"
)

func TestScanDumpDep(t *testing.T) {
	t.Parallel()
	graph := strings.Join([]string{
		"# example.com/fn",
		"_ -> main.main",
		"main.main -> text/template.(*Template).Execute",
		"text/template.(*state).evalFieldChain -> text/template.(*state).evalField <ReflectMethod>",
		"type:*reflect.rtype <UsedInIface> -> reflect.(*rtype).Methods",
		"reflect.(*rtype).Methods.func1 <UsedInIface><ReflectMethod> -> reflect.(*rtype).Method",
		"type:noalg.struct { key int; elem int } <UsedInIface> -> type:[]struct { key int; elem int } <UsedInIface>",
		"text/template.(*state).evalFieldChain -> text/template.(*state).evalField <ReflectMethod>",
		"main.go:3:2: undefined: x",
	}, "\n")
	got, rest := scanDumpDep(strings.NewReader(graph))
	want := []string{"reflect.(*rtype).Methods.func1", "text/template.(*state).evalField"}
	if !slices.Equal(got, want) {
		t.Errorf("reflect method symbols = %q, want %q", got, want)
	}
	if rest != "# example.com/fn\nmain.go:3:2: undefined: x\n" {
		t.Errorf("other output = %q", rest)
	}
}
