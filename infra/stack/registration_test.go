package stack

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ocpro/upgrade/infra/template"
)

// The local registration asks for every permission the template requires:
// a drift between the two would make every local consent fall short, and
// this names the permission at fault instead.
func TestRegistrationAsksForTheRequiredRoles(t *testing.T) {
	t.Parallel()
	src, err := template.Read(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	roles, ok := src.Default("EntraRequiredRoles")
	if !ok {
		t.Fatal("template.yaml has no default for EntraRequiredRoles")
	}
	for _, r := range strings.Split(roles, ",") {
		if r = strings.TrimSpace(r); r != "" && !slices.Contains(ServiceAppPermissions, r) {
			t.Errorf("EntraRequiredRoles requires %s, which the local app registration (ServiceAppPermissions) does not ask for: "+
				"admin consent would never grant it", r)
		}
	}
}
