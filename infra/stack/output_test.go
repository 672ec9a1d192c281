package stack

import (
	"bytes"
	"testing"
)

func TestFunctionOutputDropsEmulatorChatter(t *testing.T) {
	t.Parallel()
	in := "[Fn] 29 Nov 2026 17:38:13,168 [INFO] (rapid) Received signal signal=terminated\n" +
		`{"level":"INFO","msg":"tenant validated"}` + "\n" +
		"[Fn] 29 Nov 2026 17:38:13,168 [WARNING] (rapid) Reset initiated: SandboxTerminated\n" +
		"[Fn] 29 Nov 2026 17:38:13,170 [DEBUG] (rapid) Waiting for runtime\n" +
		"partial line without end"
	var quiet, verbose bytes.Buffer
	for _, c := range []struct {
		out     *bytes.Buffer
		verbose bool
	}{{&quiet, false}, {&verbose, true}} {
		w := functionOutput(c.out, "Fn", c.verbose)
		// Written in pieces, as a pipe delivers it.
		for i := 0; i < len(in); i += 7 {
			end := min(i+7, len(in))
			if _, err := w.Write([]byte(in[i:end])); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := "Fn | " + `{"level":"INFO","msg":"tenant validated"}` + "\n" +
		"Fn | [Fn] 29 Nov 2026 17:38:13,168 [WARNING] (rapid) Reset initiated: SandboxTerminated\n"
	if quiet.String() != want {
		t.Errorf("quiet output:\n%s\nwant:\n%s", quiet.String(), want)
	}
	if n := bytes.Count(verbose.Bytes(), []byte("\n")); n != 4 {
		t.Errorf("verbose output has %d lines, want all 4 complete ones:\n%s", n, verbose.String())
	}
}
