package eventbus

import (
	"encoding/json"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// ec2Event is the example event of the EventBridge documentation on event
// patterns, with fields added for the comparison operators.
const ec2Event = `{
  "version": "0",
  "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
  "detail-type": "EC2 Instance State-change Notification",
  "source": "aws.ec2",
  "account": "111122223333",
  "time": "2017-12-22T18:43:48Z",
  "region": "us-west-1",
  "resources": [
    "arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0",
    "arn:aws:ec2:us-west-1:123456789012:instance/i-0000000000000000"
  ],
  "detail": {
    "instance-id": "i-1234567890abcdef0",
    "state": "terminated",
    "c-count": 5,
    "d-count": 7,
    "x-limit": 301.8,
    "exact-number": 300,
    "FileName": "image.png",
    "source-ip": "10.0.0.123",
    "empty": "",
    "nothing": null,
    "flag": true,
    "tags": ["blue", "prod"],
    "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:orders",
    "location": {"city": "Seattle", "zip": "98101"},
    "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}]
  }
}`

func TestPatternMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		want    bool
	}{
		// Exact values.
		{"source in list", `{"source": ["aws.ec2", "aws.fargate"]}`, true},
		{"source not in list", `{"source": ["aws.s3"]}`, false},
		{"exact match is case sensitive", `{"source": ["AWS.EC2"]}`, false},
		{"every field must match", `{"source": ["aws.ec2"], "detail-type": ["Other"]}`, false},
		{"nested detail field", `{"detail": {"state": ["terminated"]}}`, true},
		{"two levels deep", `{"detail": {"location": {"city": ["Seattle"]}}}`, true},
		{"two levels deep, other value", `{"detail": {"location": {"city": ["Portland"]}}}`, false},
		{"missing field", `{"detail": {"no-such-field": ["x"]}}`, false},
		{"nested pattern against a string", `{"detail": {"state": {"name": ["x"]}}}`, false},
		{"array field matches any element", `{"resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-0000000000000000"]}`, true},
		{"array field in detail", `{"detail": {"tags": ["prod"]}}`, true},
		{"array of objects", `{"detail": {"items": {"sku": ["B-7"]}}}`, true},
		{"array of objects, no element matches", `{"detail": {"items": {"sku": ["C-9"]}}}`, false},
		{"number exactly as written", `{"detail": {"exact-number": [300]}}`, true},
		{"number written differently does not match", `{"detail": {"exact-number": [300.5]}}`, false},
		{"string does not match number", `{"detail": {"exact-number": ["300"]}}`, false},
		{"null literal", `{"detail": {"nothing": [null]}}`, true},
		{"null literal against a string", `{"detail": {"state": [null]}}`, false},
		{"empty string literal", `{"detail": {"empty": [""]}}`, true},
		{"boolean literal", `{"detail": {"flag": [true]}}`, true},
		{"boolean literal, other value", `{"detail": {"flag": [false]}}`, false},

		// prefix and suffix.
		{"prefix on time", `{"time": [{"prefix": "2017-12-22"}]}`, true},
		{"prefix no match", `{"time": [{"prefix": "2018"}]}`, false},
		{"prefix equals-ignore-case", `{"detail": {"state": [{"prefix": {"equals-ignore-case": "TERM"}}]}}`, true},
		{"prefix is case sensitive", `{"detail": {"state": [{"prefix": "TERM"}]}}`, false},
		{"suffix", `{"detail": {"FileName": [{"suffix": ".png"}]}}`, true},
		{"suffix no match", `{"detail": {"FileName": [{"suffix": ".jpg"}]}}`, false},
		{"suffix equals-ignore-case", `{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".PNG"}}]}}`, true},
		{"prefix never matches a number", `{"detail": {"c-count": [{"prefix": "5"}]}}`, false},

		// anything-but.
		{"anything-but value", `{"detail": {"state": [{"anything-but": "initializing"}]}}`, true},
		{"anything-but the value itself", `{"detail": {"state": [{"anything-but": "terminated"}]}}`, false},
		{"anything-but list", `{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}`, true},
		{"anything-but list containing the value", `{"detail": {"state": [{"anything-but": ["stopped", "terminated"]}]}}`, false},
		{"anything-but number", `{"detail": {"c-count": [{"anything-but": 5}]}}`, false},
		{"anything-but other number", `{"detail": {"c-count": [{"anything-but": [4, 6]}]}}`, true},
		{"anything-but prefix", `{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}`, true},
		{"anything-but prefix of the value", `{"detail": {"state": [{"anything-but": {"prefix": "term"}}]}}`, false},
		{"anything-but suffix", `{"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}}`, false},
		{"anything-but equals-ignore-case list", `{"detail": {"state": [{"anything-but": {"equals-ignore-case": ["TERMINATED", "x"]}}]}}`, false},
		{"anything-but on a missing field", `{"detail": {"no-such-field": [{"anything-but": "x"}]}}`, false},
		{"anything-but on an array with another element", `{"detail": {"tags": [{"anything-but": "blue"}]}}`, true},

		// exists.
		{"exists true", `{"detail": {"state": [{"exists": true}]}}`, true},
		{"exists true on a missing field", `{"detail": {"no-such-field": [{"exists": true}]}}`, false},
		{"exists false on a missing field", `{"detail": {"no-such-field": [{"exists": false}]}}`, true},
		{"exists false on a present field", `{"detail": {"state": [{"exists": false}]}}`, false},
		{"exists false under a missing object", `{"detail": {"nope": {"deeper": [{"exists": false}]}}}`, true},
		{"exists true on an object is not a leaf", `{"detail": {"location": [{"exists": true}]}}`, false},
		{"value or absent", `{"detail": {"no-such-field": ["x", {"exists": false}]}}`, true},

		// numeric.
		{"numeric range", `{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}`, true},
		{"numeric below", `{"detail": {"d-count": [{"numeric": ["<", 10]}]}}`, true},
		{"numeric equals written in exponent form", `{"detail": {"x-limit": [{"numeric": ["=", 3.018e2]}]}}`, true},
		{"numeric out of range", `{"detail": {"c-count": [{"numeric": [">", 5]}]}}`, false},
		{"numeric bounds inclusive", `{"detail": {"c-count": [{"numeric": [">=", 5, "<", 6]}]}}`, true},
		{"numeric never matches a string", `{"detail": {"state": [{"numeric": [">", 0]}]}}`, false},
		{"all documented numeric fields", `{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}`, true},

		// equals-ignore-case.
		{"equals-ignore-case", `{"detail-type": [{"equals-ignore-case": "ec2 instance state-change notification"}]}`, true},
		{"equals-ignore-case other value", `{"detail-type": [{"equals-ignore-case": "ec2 instance"}]}`, false},

		// wildcard.
		{"wildcard in the middle", `{"detail": {"eventSourceARN": [{"wildcard": "arn:aws:sqs:us-east-1:*:orders"}]}}`, true},
		{"wildcard at the end", `{"detail": {"FileName": [{"wildcard": "image.*"}]}}`, true},
		{"wildcard several stars", `{"detail": {"eventSourceARN": [{"wildcard": "arn:*:sqs:*:111122223333:*"}]}}`, true},
		{"wildcard no match", `{"detail": {"eventSourceARN": [{"wildcard": "arn:aws:sns:*"}]}}`, false},
		{"wildcard without star is exact", `{"detail": {"FileName": [{"wildcard": "image.png"}]}}`, true},
		{"wildcard escaped star is literal", `{"detail": {"FileName": [{"wildcard": "image\\*"}]}}`, false},
		{"wildcard parts must not overlap", `{"detail": {"FileName": [{"wildcard": "image.p*png"}]}}`, false},

		// cidr.
		{"cidr contains", `{"detail": {"source-ip": [{"cidr": "10.0.0.0/24"}]}}`, true},
		{"cidr outside", `{"detail": {"source-ip": [{"cidr": "10.0.1.0/24"}]}}`, false},

		// $or.
		{"$or one alternative matches", `{"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [{"numeric": ["<", 10]}]}]}}`, true},
		{"$or no alternative matches", `{"detail": {"$or": [{"c-count": [{"numeric": [">", 10]}]}, {"d-count": [{"numeric": [">", 10]}]}]}}`, false},
		{"$or at the top with other fields", `{"source": ["aws.ec2"], "$or": [{"detail-type": ["Other"]}, {"detail": {"state": ["terminated"]}}]}`, true},
		{"$or matches but a sibling field does not", `{"source": ["aws.s3"], "$or": [{"detail-type": ["Other"]}, {"detail": {"state": ["terminated"]}}]}`, false},
	}
	var event map[string]any
	dec := json.NewDecoder(strings.NewReader(ec2Event))
	dec.UseNumber()
	if err := dec.Decode(&event); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p map[string]any
			if err := json.Unmarshal([]byte(tt.pattern), &p); err != nil {
				t.Fatalf("pattern is not JSON: %v", err)
			}
			n, err := compilePattern(p)
			if err != nil {
				t.Fatalf("compilePattern: %v", err)
			}
			if got := n.match(event); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestPatternFromYAML checks the patterns of template.yaml, which arrive
// decoded from YAML (ints rather than float64 for numbers).
func TestPatternFromYAML(t *testing.T) {
	t.Parallel()
	const pattern = `
source: [ocpro.upgrades]
detail-type: [Invitation Created, Invitation Mail Requested]
detail:
  attempt: [{numeric: [">=", 1]}]
  reminder: [2]
`
	var p map[string]any
	if err := yaml.Unmarshal([]byte(pattern), &p); err != nil {
		t.Fatal(err)
	}
	n, err := compilePattern(p)
	if err != nil {
		t.Fatalf("compilePattern: %v", err)
	}
	tests := []struct {
		name  string
		event string
		want  bool
	}{
		{"matching event", `{"source":"ocpro.upgrades","detail-type":"Invitation Mail Requested","detail":{"attempt":1,"reminder":2}}`, true},
		{"other detail type", `{"source":"ocpro.upgrades","detail-type":"Invitation Revoked","detail":{"attempt":1,"reminder":2}}`, false},
		{"other reminder", `{"source":"ocpro.upgrades","detail-type":"Invitation Created","detail":{"attempt":1,"reminder":1}}`, false},
		{"attempt too low", `{"source":"ocpro.upgrades","detail-type":"Invitation Created","detail":{"attempt":0,"reminder":2}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var event map[string]any
			dec := json.NewDecoder(strings.NewReader(tt.event))
			dec.UseNumber()
			if err := dec.Decode(&event); err != nil {
				t.Fatal(err)
			}
			if got := n.match(event); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPatternInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
	}{
		{"empty pattern", `{}`},
		{"value not in an array", `{"source": "aws.ec2"}`},
		{"empty array", `{"source": []}`},
		{"unknown operator", `{"source": [{"contains": "ec2"}]}`},
		{"two operators in one object", `{"source": [{"prefix": "a", "suffix": "b"}]}`},
		{"exists takes a boolean", `{"source": [{"exists": "yes"}]}`},
		{"numeric with an unknown comparison", `{"detail": {"n": [{"numeric": ["!=", 1]}]}}`},
		{"numeric with a string bound", `{"detail": {"n": [{"numeric": [">", "1"]}]}}`},
		{"numeric with three elements", `{"detail": {"n": [{"numeric": [">", 1, "<"]}]}}`},
		{"prefix takes a string", `{"source": [{"prefix": 1}]}`},
		{"wildcard with consecutive stars", `{"source": [{"wildcard": "a**b"}]}`},
		{"cidr that is not a prefix", `{"detail": {"ip": [{"cidr": "10.0.0.300/8"}]}}`},
		{"anything-but empty list", `{"source": [{"anything-but": []}]}`},
		{"anything-but unknown operator", `{"source": [{"anything-but": {"contains": "x"}}]}`},
		{"$or not an array", `{"$or": {"source": ["a"]}}`},
		{"$or with an empty alternative", `{"$or": [{}, {"source": ["a"]}]}`},
		{"object inside a value list", `{"source": [["nested"]]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var p map[string]any
			if err := json.Unmarshal([]byte(tt.pattern), &p); err != nil {
				t.Fatalf("pattern is not JSON: %v", err)
			}
			if _, err := compilePattern(p); err == nil {
				t.Error("compilePattern succeeded, want an error")
			}
		})
	}
}
