package gateway

import (
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// requestTimeLayout is API Gateway's requestContext.time format.
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// request is what the gateway knows about one request when it builds the
// event.
type request struct {
	http      *http.Request
	route     *route
	params    map[string]string
	body      []byte
	id        string
	at        time.Time
	identity  *identity
	accountID string
	apiID     string
	stage     string
}

// event builds the payload format 2.0 event API Gateway sends to a function.
func (g *gateway) event(in request) events.APIGatewayV2HTTPRequest {
	r := in.http
	headers := map[string]string{}
	for k, vs := range r.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ",")
	}
	// API Gateway hands cookies over separately, not as a header.
	var cookies []string
	delete(headers, "cookie")
	for _, c := range r.Header.Values("Cookie") {
		for _, part := range strings.Split(c, ";") {
			if part = strings.TrimSpace(part); part != "" {
				cookies = append(cookies, part)
			}
		}
	}
	sourceIP, port := r.RemoteAddr, ""
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		sourceIP = host
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	headers["host"] = r.Host
	headers["x-forwarded-for"] = sourceIP
	headers["x-forwarded-proto"] = proto
	if port != "" {
		headers["x-forwarded-port"] = port
	}

	ev := events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              in.route.key,
		RawPath:               r.URL.EscapedPath(),
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: queryParameters(r.URL.RawQuery),
		PathParameters:        in.params,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     in.route.key,
			AccountID:    in.accountID,
			Stage:        in.stage,
			RequestID:    in.id,
			APIID:        in.apiID,
			DomainName:   r.Host,
			DomainPrefix: domainPrefix(r.Host),
			Time:         in.at.UTC().Format(requestTimeLayout),
			TimeEpoch:    in.at.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.EscapedPath(),
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
	if in.identity != nil {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: in.identity.claims,
				Scopes: in.identity.scopes,
			},
		}
	}
	if len(in.body) > 0 {
		if textual(r.Header.Get("Content-Type")) {
			ev.Body = string(in.body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(in.body)
			ev.IsBase64Encoded = true
		}
	}
	return ev
}

// queryParameters decodes the query string, joining repeated names with
// commas as API Gateway does. A malformed pair is skipped, not fatal.
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	values := map[string][]string{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, errK := url.QueryUnescape(k)
		v, errV := url.QueryUnescape(v)
		if errK != nil || errV != nil {
			continue
		}
		values[k] = append(values[k], v)
	}
	if len(values) == 0 {
		return nil
	}
	out := make(map[string]string, len(values))
	for k, vs := range values {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func domainPrefix(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	prefix, _, _ := strings.Cut(host, ".")
	return prefix
}

// textual reports whether API Gateway passes a body of this content type as
// text rather than base64.
func textual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json",
		strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"),
		mt == "application/x-www-form-urlencoded",
		mt == "application/xml":
		return true
	}
	return false
}
