package lambdapool

import (
	"net"
	"os"
	"testing"
)

func TestListensOn(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if ok, err := listensOn(os.Getpid(), port); err != nil || !ok {
		t.Fatalf("listensOn(self, %d) = %v, %v; want true", port, ok, err)
	}
	// PID 1 does not hold this test's socket. An error (no permission to
	// read PID 1's descriptors) says the same.
	if ok, _ := listensOn(1, port); ok {
		t.Fatalf("listensOn(1, %d) = true; want false", port)
	}
	free, err := freePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := listensOn(os.Getpid(), free[0]); err != nil || ok {
		t.Fatalf("listensOn(self, free port %d) = %v, %v; want false", free[0], ok, err)
	}
}
