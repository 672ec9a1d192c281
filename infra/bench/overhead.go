package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/ocpro/upgrade/infra/gateway"
	"github.com/ocpro/upgrade/infra/lambdapool"
	"github.com/ocpro/upgrade/infra/template"
)

// overheadRoute is the one route the overhead gateway serves.
const overheadRoute = "/bench"

// warmups are discarded requests that start the emulator and fill the
// connection pools before anything is timed.
const warmups = 20

// MeasureGateway sends the same GET iterations times straight to the minimal
// handler under aws-lambda-rie (lambdapool.Invoke with the event the gateway
// would build) and through the local API Gateway over loopback HTTP,
// alternating the two so that both see the same machine.
func MeasureGateway(ctx context.Context, rie, minimalBootstrap string, iterations int) (*GatewayOverhead, error) {
	if iterations < 1 {
		return nil, fmt.Errorf("bench: %d gateway iterations asked for; need at least 1", iterations)
	}
	const name = "Minimal"
	pool, err := lambdapool.New(lambdapool.Config{
		Name: name, Bootstrap: minimalBootstrap, RIE: rie, MaxInstances: 1, Env: ProbeEnv(nil),
	})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer pool.Close()
	gw, err := gateway.New(gateway.Config{
		Routes:  []template.Route{{Function: name, Event: "Bench", Method: http.MethodGet, Path: overheadRoute, Public: true}},
		Invoker: lambdapool.Pools{name: pool},
		Log:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	srv := &http.Server{Handler: gw, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	url := "http://" + ln.Addr().String() + overheadRoute
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 1}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	event := HTTPProbe().Event

	direct := func() error {
		_, err := pool.Invoke(ctx, event)
		return err
	}
	through := func() error { return get(ctx, client, url) }
	for range warmups {
		if err := errors.Join(direct(), through()); err != nil {
			return nil, fmt.Errorf("bench: warming up: %w", err)
		}
	}
	d := make([]time.Duration, 0, iterations)
	g := make([]time.Duration, 0, iterations)
	for range iterations {
		took, err := timed(direct)
		if err != nil {
			return nil, fmt.Errorf("bench: direct invoke: %w", err)
		}
		d = append(d, took)
		if took, err = timed(through); err != nil {
			return nil, fmt.Errorf("bench: through the gateway: %w", err)
		}
		g = append(g, took)
	}
	o := &GatewayOverhead{Iterations: iterations, Direct: Summarize(d), Gateway: Summarize(g)}
	o.Ratio = Ratio(float64(o.Gateway.Median), float64(o.Direct.Median))
	return o, nil
}

func timed(f func() error) (time.Duration, error) {
	began := time.Now()
	err := f()
	return time.Since(began), err
}

// get fetches url and insists on the minimal handler's answer, so that a
// fast error page is never timed as the gateway's overhead.
func get(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		return fmt.Errorf("gateway answered %d: %s", resp.StatusCode, tail(string(body), 200))
	}
	return nil
}
