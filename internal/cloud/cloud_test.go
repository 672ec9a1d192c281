package cloud_test

import (
	"strings"
	"testing"

	"github.com/ocpro/upgrade/internal/cloud"
)

func TestGraphResource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, base, want, cloud string
	}{
		{"global", "https://graph.microsoft.com", "https://graph.microsoft.com", "the global service"},
		{"global, trailing slash", "https://graph.microsoft.com/", "https://graph.microsoft.com", "the global service"},
		{"global, explicit port", "https://graph.microsoft.com:443", "https://graph.microsoft.com", "the global service"},
		{"US Government L4", "https://graph.microsoft.us", "https://graph.microsoft.us", "US Government L4 (GCC High)"},
		{"US Government L5", "https://dod-graph.microsoft.us", "https://dod-graph.microsoft.us", "US Government L5 (DoD)"},
		{"China", "https://microsoftgraph.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn", "China, operated by 21Vianet"},
		{"upper case", "https://Graph.Microsoft.US", "https://graph.microsoft.us", "US Government L4 (GCC High)"},
		{"local stand-in", "https://127.0.0.1:8443", "https://127.0.0.1:8443", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := cloud.GraphResource(tt.base)
			if err != nil || got != tt.want {
				t.Fatalf("GraphResource(%q) = %q, %v; want %q", tt.base, got, err, tt.want)
			}
			if c := cloud.GraphCloud(got); c != tt.cloud {
				t.Errorf("GraphCloud(%q) = %q, want %q", got, c, tt.cloud)
			}
		})
	}
}

func TestGraphResourceRefuses(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"", "graph.microsoft.com", "http://graph.microsoft.com", "https://graph.microsoft.com/v1.0",
		"https://graph.microsoft.com?x=1", "https://user:pw@graph.microsoft.com", "https://", "://bad", "https://graph.microsoft.com#f",
	} {
		if got, err := cloud.GraphResource(bad); err == nil {
			t.Errorf("GraphResource(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzGraphResource(f *testing.F) {
	for _, s := range []string{"https://graph.microsoft.com", "https://127.0.0.1:1/", "http://x", "https://a/b?c#d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, base string) {
		got, err := cloud.GraphResource(base)
		if err != nil {
			return
		}
		if !strings.HasPrefix(got, "https://") || strings.ContainsAny(got[len("https://"):], "/?#@") {
			t.Fatalf("GraphResource(%q) = %q: not an https origin", base, got)
		}
		if again, err := cloud.GraphResource(got); err != nil || again != got {
			t.Fatalf("GraphResource(%q) = %q, %v: not stable", got, again, err)
		}
	})
}
