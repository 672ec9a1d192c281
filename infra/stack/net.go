package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ocpro/upgrade/infra/lambdapool"
)

// awsRouter sends AWS JSON 1.1 calls to the stand-in whose target prefix they
// carry, and the event bus's control surface under /_local/.
func awsRouter(bus, sm, kmsH http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_local/") {
			bus.ServeHTTP(w, r)
			return
		}
		target := r.Header.Get("X-Amz-Target")
		switch {
		case strings.HasPrefix(target, "AWSEvents."):
			bus.ServeHTTP(w, r)
		case strings.HasPrefix(target, "secretsmanager."):
			sm.ServeHTTP(w, r)
		case strings.HasPrefix(target, "TrentService."):
			kmsH.ServeHTTP(w, r)
		default:
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"UnknownOperationException","message":"no local stand-in for %q"}`, target)
		}
	})
}

// lazyInvoker lets the bus and the gateway be built before the pools exist.
type lazyInvoker struct {
	mu    sync.RWMutex
	pools lambdapool.Pools
}

func (l *lazyInvoker) set(p lambdapool.Pools) {
	l.mu.Lock()
	l.pools = p
	l.mu.Unlock()
}

func (l *lazyInvoker) Invoke(ctx context.Context, function string, event []byte) ([]byte, error) {
	l.mu.RLock()
	p := l.pools
	l.mu.RUnlock()
	if p == nil {
		return nil, errors.New("functions are not started yet")
	}
	return p.Invoke(ctx, function, event)
}

func listen(port int, what string) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, fmt.Errorf("the %s port 127.0.0.1:%d is taken (is another make run up? set API_PORT or MAIL_PORT to use other ports): %w", what, port, err)
	}
	return ln, nil
}

func portFree(port int, what string) error {
	ln, err := listen(port, what)
	if err != nil {
		return err
	}
	return ln.Close()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func serve(h http.Handler) (url string, stop func() error, err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}, nil
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return b
}

func randomSecret() string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(30))
}
