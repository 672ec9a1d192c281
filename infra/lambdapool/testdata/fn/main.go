// Command fn is the test function the pool tests run under aws-lambda-rie. It
// echoes its event, and on request sleeps, fails, exits or reports
// environment variables, always telling which process served the call.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Echo    string   `json:"echo"`
	SleepMS int      `json:"sleepMs"`
	Fail    string   `json:"fail"`
	Exit    bool     `json:"exit"`
	Env     []string `json:"env"`
}

type response struct {
	PID  int               `json:"pid"`
	Echo string            `json:"echo"`
	Env  map[string]string `json:"env,omitempty"`
}

func handle(ctx context.Context, req request) (response, error) {
	if req.Exit {
		os.Exit(3)
	}
	if req.SleepMS > 0 {
		select {
		case <-time.After(time.Duration(req.SleepMS) * time.Millisecond):
		case <-ctx.Done():
			// Keep sleeping past the deadline: the emulator must kill us.
			time.Sleep(time.Duration(req.SleepMS) * time.Millisecond)
		}
	}
	if req.Fail != "" {
		return response{}, errors.New(req.Fail)
	}
	resp := response{PID: os.Getpid(), Echo: req.Echo}
	if len(req.Env) > 0 {
		resp.Env = map[string]string{}
		for _, k := range req.Env {
			resp.Env[k] = os.Getenv(k)
		}
	}
	return resp, nil
}

func main() { lambda.Start(handle) }
