package lambdapool

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// listensOn reports whether process pid holds the socket listening on
// 127.0.0.1:port. Free ports are found by binding and closing, so between
// that and the emulator's own bind another program (a test server, another
// pool's emulator) can take the port; a connection that succeeds then
// reaches a stranger. Linux tells who owns a listening socket: its inode in
// /proc/net/tcp and a file descriptor of pid pointing at that inode.
func listensOn(pid, port int) (bool, error) {
	inode, err := listeningInode(port)
	if err != nil || inode == "" {
		return false, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false, err
	}
	want := "socket:[" + inode + "]"
	for _, fd := range fds {
		if link, err := os.Readlink(filepath.Join(fmt.Sprintf("/proc/%d/fd", pid), fd.Name())); err == nil && link == want {
			return true, nil
		}
	}
	return false, nil
}

// listeningInode returns the inode of the socket listening on
// 127.0.0.1:port, "" when there is none.
func listeningInode(port int) (string, error) {
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		return "", err
	}
	defer f.Close()
	// 127.0.0.1 is 0100007F in the kernel's little-endian hex.
	local := "0100007F:" + strings.ToUpper(strconv.FormatInt(int64(port), 16))
	for len(local) < len("0100007F:0000") {
		local = strings.Replace(local, ":", ":0", 1)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// sl local_address rem_address st ... inode is the tenth field.
		if len(fields) > 9 && fields[1] == local && fields[3] == "0A" {
			return fields[9], nil
		}
	}
	return "", sc.Err()
}
