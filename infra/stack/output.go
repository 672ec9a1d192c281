package stack

import (
	"bytes"
	"io"
	"regexp"
	"sync"
)

// prefixed returns a writer that starts every line written to w with
// "name | ", so that the interleaved output of many children stays readable.
func prefixed(w io.Writer, name string) io.Writer {
	if w == io.Discard {
		return w
	}
	return &prefixWriter{w: w, prefix: []byte(name + " | ")}
}

type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix []byte
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		line := append(append([]byte{}, p.prefix...), p.buf[:i+1]...)
		if _, err := p.w.Write(line); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// emulatorChatter matches aws-lambda-rie's own informational lines ("...
// [INFO] (rapid) Received signal"), several per invocation.
var emulatorChatter = regexp.MustCompile(`\[(INFO|DEBUG)\] \(rapid\)`)

// functionOutput is where a function's pool writes: its lines, prefixed,
// without the emulator's chatter unless verbose.
func functionOutput(w io.Writer, name string, verbose bool) io.Writer {
	out := prefixed(w, name)
	if verbose || out == io.Discard {
		return out
	}
	return &lineFilter{w: out, drop: emulatorChatter}
}

// lineFilter passes on whole lines that drop does not match.
type lineFilter struct {
	mu   sync.Mutex
	w    io.Writer
	drop *regexp.Regexp
	buf  []byte
}

func (f *lineFilter) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buf = append(f.buf, b...)
	for {
		i := bytes.IndexByte(f.buf, '\n')
		if i < 0 {
			break
		}
		line := f.buf[:i+1]
		if !f.drop.Match(line) {
			if _, err := f.w.Write(line); err != nil {
				return len(b), err
			}
		}
		f.buf = f.buf[i+1:]
	}
	return len(b), nil
}
