// Command minimal is the floor the benchmark harness measures every function
// against: an aws-lambda-go handler that does nothing but answer. It answers
// in the shape of an API Gateway proxy response so that the local gateway can
// serve it too, without importing the events package, which a real function
// would pay for but the floor should not.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

// response is the HTTP API proxy response, payload format 2.0.
type response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       string            `json:"body"`
}

func handle(_ context.Context, _ json.RawMessage) (response, error) {
	return response{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "text/plain"},
		Body:       "ok",
	}, nil
}

func main() { lambda.Start(handle) }
