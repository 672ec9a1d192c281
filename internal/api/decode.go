package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ocpro/upgrade/internal/fault"
)

// MaxBodyBytes is the largest request body accepted; the portal's requests
// are a few hundred bytes.
const MaxBodyBytes = 64 << 10

// Field error codes of the decoder, in addition to the domain's.
const (
	codeUnknownField = "unknown_field"
	codeWrongType    = "wrong_type"
	codeRequired     = "required"
)

// field is one member of a JSON request object. into is a *string, *int,
// *bool or *[]string; set records whether the member was present and not null.
type field struct {
	name     string
	required bool
	into     any
	set      *bool
}

// body returns the raw request body after the transport checks: JSON
// content type, base64 decoding, size and emptiness.
func body(req events.APIGatewayV2HTTPRequest) ([]byte, error) {
	ct := header(req, "content-type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return nil, &httpError{status: http.StatusUnsupportedMediaType, typ: "unsupported-media-type",
			title: "Unsupported media type", detail: "Send the body as application/json."}
	}
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		if raw, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, &httpError{status: http.StatusBadRequest, typ: "malformed-request", title: "Malformed request", detail: "The body is not valid base64."}
		}
	}
	if len(raw) > MaxBodyBytes {
		return nil, &httpError{status: http.StatusRequestEntityTooLarge, typ: "payload-too-large",
			title: "Payload too large", detail: fmt.Sprintf("The body must be at most %d bytes.", MaxBodyBytes)}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &httpError{status: http.StatusBadRequest, typ: "malformed-request", title: "Malformed request", detail: "The body is empty; send a JSON object."}
	}
	return raw, nil
}

// decodeObject strictly decodes a JSON object into fields. It reports every
// bad member at once: unknown members, wrong types and missing required
// members are field errors (400 with errors[]); broken JSON is a 400 naming
// the line and column.
func decodeObject(raw []byte, fields ...field) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return malformed(raw, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &httpError{status: http.StatusBadRequest, typ: "malformed-request", title: "Malformed request",
			detail: "The body holds more than one JSON value."}
	}
	if obj == nil {
		return &httpError{status: http.StatusBadRequest, typ: "malformed-request", title: "Malformed request", detail: "The body must be a JSON object."}
	}
	var errs []fault.FieldError
	var unknown []string
	for name := range obj {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == name }) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		errs = append(errs, fault.FieldError{Field: name, Code: codeUnknownField, Message: "This field is not part of the request."})
	}
	for _, f := range fields {
		v, ok := obj[f.name]
		if ok && string(v) == "null" {
			ok = false
		}
		if f.set != nil {
			*f.set = ok
		}
		if !ok {
			if f.required {
				errs = append(errs, fault.FieldError{Field: f.name, Code: codeRequired, Message: "This field is required."})
			}
			continue
		}
		if fe := decodeValue(f, v); fe != nil {
			errs = append(errs, *fe)
		}
	}
	return fault.InvalidFields(errs...)
}

func decodeValue(f field, v json.RawMessage) *fault.FieldError {
	wrong := func(what string) *fault.FieldError {
		return &fault.FieldError{Field: f.name, Code: codeWrongType, Message: "This field must be " + what + "."}
	}
	switch dst := f.into.(type) {
	case *string:
		if json.Unmarshal(v, dst) != nil {
			return wrong("a string")
		}
	case *bool:
		if json.Unmarshal(v, dst) != nil {
			return wrong("true or false")
		}
	case *[]string:
		// An array of strings, none of them null: Unmarshal would read a
		// null element as "".
		var elems []json.RawMessage
		if json.Unmarshal(v, &elems) != nil {
			return wrong("an array of strings")
		}
		out := make([]string, len(elems))
		for i, e := range elems {
			if c := bytes.TrimSpace(e); len(c) == 0 || c[0] != '"' || json.Unmarshal(c, &out[i]) != nil {
				return wrong("an array of strings")
			}
		}
		*dst = out
	case *int:
		// json.Number also takes a string that holds a number ("50"); a
		// number must be written as a JSON number.
		if c := bytes.TrimSpace(v); len(c) == 0 || c[0] != '-' && (c[0] < '0' || c[0] > '9') {
			return wrong("a whole number")
		}
		var n json.Number
		d := json.NewDecoder(bytes.NewReader(v))
		d.UseNumber()
		if d.Decode(&n) != nil {
			return wrong("a whole number")
		}
		i, err := strconv.ParseInt(n.String(), 10, 32)
		if err != nil {
			// 1e2 and 120.0 are numbers but not whole-number literals; huge
			// values would overflow. Both are refused the same way.
			if x, ferr := n.Float64(); ferr == nil && x == math.Trunc(x) && math.Abs(x) > math.MaxInt32 {
				return &fault.FieldError{Field: f.name, Code: "out_of_range", Message: "This number is too large."}
			}
			return wrong("a whole number")
		}
		*dst = int(i)
	default:
		panic(fmt.Sprintf("api: field %s has unsupported type %T", f.name, f.into)) // a programming error, caught by every test
	}
	return nil
}

// malformed turns a JSON decoding error into a 400 that says where.
func malformed(raw []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	detail := "The body is not valid JSON."
	switch {
	case errors.As(err, &se):
		line, col := position(raw, se.Offset)
		detail = fmt.Sprintf("The body is not valid JSON: %s at line %d, column %d.", se.Error(), line, col)
	case errors.As(err, &te):
		detail = "The body must be a JSON object."
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		detail = "The body ends before the JSON value does."
	}
	return &httpError{status: http.StatusBadRequest, typ: "malformed-request", title: "Malformed request", detail: detail}
}

// position converts a byte offset to a 1-based line and column.
func position(raw []byte, offset int64) (line, col int) {
	offset = min(max(offset, 0), int64(len(raw)))
	before := raw[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - bytes.LastIndexByte(before, '\n')
	return line, col
}

// header returns a request header, whatever its case (API Gateway lowercases
// them in payload 2.0, test clients may not).
func header(req events.APIGatewayV2HTTPRequest, name string) string {
	v, _ := lookupHeader(req, name)
	return v
}

// lookupHeader is header that also says whether the header was sent.
func lookupHeader(req events.APIGatewayV2HTTPRequest, name string) (string, bool) {
	if v, ok := req.Headers[name]; ok {
		return v, true
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}
