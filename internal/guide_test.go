package internal_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	// guideRow is a row of docs/guide.md's tables: step, what the guide
	// says, code, tests.
	guideRow = regexp.MustCompile(`^\| (\d+) \|.*\| ([^|]*) \|$`)
	// backticked is one `name` of a cell.
	backticked = regexp.MustCompile("`([^`]+)`")
	// citation is a comment's "guide step N" or "guide steps N-M".
	citation = regexp.MustCompile(`(?i)guide\s+(?://\s*)?steps?\s+(\d+)(?:-(\d+))?`)
)

// docs/guide.md maps each of the guide's 30 steps, once, and every test it
// names exists: a renamed test cannot leave the page pointing nowhere.
func TestGuideMapsEveryStepToRealTests(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../docs/guide.md")
	if err != nil {
		t.Fatal(err)
	}
	steps := map[int]bool{}
	for line := range strings.SplitSeq(string(b), "\n") {
		m := guideRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if steps[n] {
			t.Errorf("step %d is mapped twice", n)
		}
		steps[n] = true
		suite := ""
		for _, name := range backticked.FindAllStringSubmatch(m[2], -1) {
			switch ref := name[1]; {
			case ref == "storetest" || ref == "wizardtest":
				suite = ref
			case strings.Contains(ref, "/"):
				suite = ""
				i := strings.LastIndex(ref, "/")
				dir := "../e2e"
				if ref[:i] != "e2e" {
					dir = ref[:i]
				}
				if !declared(t, dir, "func "+ref[i+1:]+"(") {
					t.Errorf("step %d names %s, which %s does not declare", n, ref, dir)
				}
			case suite != "":
				dir := map[string]string{"storetest": "upgrade/storetest", "wizardtest": "wizard/wizardtest"}[suite]
				if !declared(t, dir, `{"`+ref+`", `) {
					t.Errorf("step %d names the %s case %s, which does not exist", n, suite, ref)
				}
			default:
				t.Errorf("step %d names %q, which is no test", n, ref)
			}
		}
	}
	for n := 1; n <= 30; n++ {
		if !steps[n] {
			t.Errorf("step %d is not mapped", n)
		}
	}
	if len(steps) != 30 {
		t.Errorf("%d steps mapped, want 30", len(steps))
	}
}

// declared reports whether a Go file of dir holds text.
func declared(t *testing.T, dir, text string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Errorf("no Go files in %s (%v)", dir, err)
		return false
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), text) {
			return true
		}
	}
	return false
}

// Comments cite the guide one way, "guide step N", with N a step of the
// guide: docs/guide.md is where such a citation leads.
func TestCommentsCiteGuideSteps(t *testing.T) {
	t.Parallel()
	for _, root := range []string{".", "../functions"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || path == "guide_test.go" {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			text := string(b)
			if regexp.MustCompile(`(?i)\bseed\s+(?://\s*)?steps?\b`).MatchString(text) {
				t.Errorf("%s cites a \"seed step\"; cite it as \"guide step N\"", path)
			}
			for _, m := range citation.FindAllStringSubmatch(text, -1) {
				for _, s := range m[1:] {
					if n, err := strconv.Atoi(s); s != "" && (err != nil || n < 1 || n > 30) {
						t.Errorf("%s cites guide step %s; the guide has steps 1 to 30", path, s)
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
