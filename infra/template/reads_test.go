package template

import (
	"slices"
	"testing"
)

func TestCheckReads(t *testing.T) {
	t.Parallel()
	src := `
Globals:
  Function:
    Environment:
      Variables: {TABLE_NAME: t}
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables: {SIP_DOMAIN: sip.example.net, SUPPORT_ADDRESS: ""}
`
	tp, err := Parse([]byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                  string
		function              string
		reads                 []string
		undeclared, unreadOwn []string
	}{
		{"reads what it is given", "Fn", []string{"TABLE_NAME", "SIP_DOMAIN", "SUPPORT_ADDRESS"}, nil, nil},
		{"an empty value is declared too", "Fn", []string{"SIP_DOMAIN", "SUPPORT_ADDRESS"}, nil, nil},
		{"Lambda's own variables need no declaration", "Fn",
			[]string{"SIP_DOMAIN", "SUPPORT_ADDRESS", "AWS_REGION", "AWS_LAMBDA_LOG_FORMAT", "_HANDLER", "LAMBDA_TASK_ROOT"}, nil, nil},
		{"reads a variable the template does not give it", "Fn",
			[]string{"SIP_DOMAIN", "SUPPORT_ADDRESS", "SEND_RATE_FALLBACK", "SEND_RATE_FALLBACK"}, []string{"SEND_RATE_FALLBACK"}, nil},
		{"given a variable of its own it never reads", "Fn", []string{"TABLE_NAME"}, nil, []string{"SIP_DOMAIN", "SUPPORT_ADDRESS"}},
		{"an unknown function is given nothing", "Other", []string{"TABLE_NAME"}, []string{"TABLE_NAME"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			undeclared, unread := tp.CheckReads(tt.function, tt.reads)
			if !slices.Equal(undeclared, tt.undeclared) || !slices.Equal(unread, tt.unreadOwn) {
				t.Errorf("CheckReads = %v, %v; want %v, %v", undeclared, unread, tt.undeclared, tt.unreadOwn)
			}
		})
	}
	if tp.GlobalEnvironment["TABLE_NAME"] != "t" || tp.Functions["Fn"].Environment["TABLE_NAME"] != "t" {
		t.Errorf("Globals: %v, function: %v", tp.GlobalEnvironment, tp.Functions["Fn"].Environment)
	}
}
