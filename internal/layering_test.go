// Package internal_test enforces the layering of the house style: the
// domain packages never import an AWS or Lambda package, so that the rules
// can be read, tested and reused without the cloud.
package internal_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// pure are the packages that must not reach AWS or Lambda, directly or
// through anything they import.
var pure = []string{
	"github.com/ocpro/upgrade/internal/fault",
	"github.com/ocpro/upgrade/internal/upgrade",
	"github.com/ocpro/upgrade/internal/upgrade/memory",
	"github.com/ocpro/upgrade/internal/upgrade/storetest",
	"github.com/ocpro/upgrade/internal/link",
	// mail is what the portal API links for email settings; rendering and
	// SES live in mail/layout and mail/ses.
	"github.com/ocpro/upgrade/internal/mail",
	"github.com/ocpro/upgrade/internal/wizard",
	"github.com/ocpro/upgrade/internal/wizard/wizardtest",
	// The mail use case and the sweep: their glue (courier, schedule)
	// decodes the Lambda events, and SES is reached through adapters.
	"github.com/ocpro/upgrade/internal/notify",
	"github.com/ocpro/upgrade/internal/sweep",
	// The events' definitions, shared by senders and receivers.
	"github.com/ocpro/upgrade/internal/event",
}

var forbidden = []string{"github.com/aws/", "github.com/aws/aws-lambda-go"}

func TestDomainDoesNotImportAWS(t *testing.T) {
	t.Parallel()
	for _, pkg := range pure {
		t.Run(pkg[strings.LastIndex(pkg, "internal/"):], func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command("go", "list", "-deps", "-json=ImportPath", pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			n := 0
			for dec.More() {
				var p struct{ ImportPath string }
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				n++
				for _, f := range forbidden {
					if strings.HasPrefix(p.ImportPath, f) {
						t.Errorf("%s depends on %s", pkg, p.ImportPath)
					}
				}
			}
			if n < 2 {
				t.Fatalf("go list found only %d packages for %s; the check would pass vacuously", n, pkg)
			}
		})
	}
}
