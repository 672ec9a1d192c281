package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/ocpro/upgrade/infra/template"
)

// BuildFunctions builds every function of the template into
// out/<LogicalId>/bootstrap with the flags used for AWS (CGO off,
// lambda.norpc, trimmed, stripped), for this machine's architecture so that
// aws-lambda-rie can run it here.
func BuildFunctions(ctx context.Context, root, out string) error {
	t, err := template.Load(filepath.Join(root, "template.yaml"), template.Options{})
	if err != nil {
		return err
	}
	for id := range t.Functions {
		bin := filepath.Join(out, id, "bootstrap")
		cmd := exec.CommandContext(ctx, "go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", bin, template.FunctionDir(id))
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if outp, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s: %w\n%s", id, err, outp)
		}
	}
	return nil
}
