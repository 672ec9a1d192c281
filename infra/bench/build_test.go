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
		"main.main -> github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).GetItem",
		"github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).PutItem <UsedInIface> -> github.com/aws/aws-sdk-go-v2/service/dynamodb.(*Client).GetItem.arginfo1",
		"type:*github.com/aws/aws-sdk-go-v2/service/kms.Client <UsedInIface> -> type:.namedata.CancelKeyDeletion.",
		"x -> github.com/aws/aws-sdk-go-v2/service/dynamodb/types.(*AttributeValueMemberS).isAttributeValue",
		"main.main -> github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential.Client.AcquireTokenByCredential",
		"main.main -> github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential.(*Client).AcquireTokenSilent",
	}, "\n")
	got, rest := scanDumpDep(strings.NewReader(graph))
	want := []string{"reflect.(*rtype).Methods.func1", "text/template.(*state).evalField"}
	if !slices.Equal(got.ReflectMethod, want) {
		t.Errorf("reflect method symbols = %q, want %q", got.ReflectMethod, want)
	}
	wantLibs := Libraries{AWS: map[string][]string{"dynamodb": {"GetItem", "PutItem"}}, MSAL: []string{"AcquireTokenByCredential", "AcquireTokenSilent"}}
	if got.Libraries.String() != wantLibs.String() {
		t.Errorf("libraries = %s, want %s", got.Libraries, wantLibs)
	}
	if rest != "# example.com/fn\nmain.go:3:2: undefined: x\n" {
		t.Errorf("other output = %q", rest)
	}
}
