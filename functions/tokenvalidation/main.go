// Command tokenvalidation is TokenValidationFunction. Until the validation
// issue lands it answers its routes with 503 and refuses events.
package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		var probe struct {
			RouteKey string `json:"routeKey"`
		}
		if json.Unmarshal(raw, &probe) == nil && probe.RouteKey != "" {
			return events.APIGatewayV2HTTPResponse{
				StatusCode: 503,
				Headers:    map[string]string{"Content-Type": "application/problem+json"},
				Body:       `{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"Validate Authentication is not available yet."}`,
			}, nil
		}
		return nil, errors.New("token validation is not available yet")
	})
}
