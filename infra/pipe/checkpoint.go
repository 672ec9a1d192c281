package pipe

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The checkpoints live in a file of the stack's state folder, not in the
// table: every write to the table is itself a stream record, so a
// checkpoint item would feed the pipe a record per checkpoint, for ever,
// and mix the pipe's bookkeeping into the product's data. AWS too keeps a
// pipe's position outside the table. The file names the stream it belongs
// to: DynamoDB Local in memory makes a new stream (a new ARN) on every
// start, and positions in another stream mean nothing.

// checkpoints is the position of a pipe in each shard of one stream.
type checkpoints struct {
	Stream string                `json:"stream"`
	Shards map[string]checkpoint `json:"shards"`
}

// checkpoint is one shard's position: the last sequence number handled
// (delivered, dead-lettered or filtered out), and whether the shard is
// closed and read to its end.
type checkpoint struct {
	Sequence string `json:"sequence,omitempty"`
	Done     bool   `json:"done,omitempty"`
}

// checkpointFile keeps checkpoints in one JSON file, replaced atomically.
type checkpointFile struct {
	path string
}

// load reads the checkpoints of stream; those of another stream are
// dropped (stale reports whether there were any).
func (f checkpointFile) load(stream string) (cp checkpoints, stale bool, err error) {
	cp = checkpoints{Stream: stream, Shards: map[string]checkpoint{}}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return cp, false, nil
	}
	if err != nil {
		return cp, false, err
	}
	var saved checkpoints
	if err := json.Unmarshal(data, &saved); err != nil {
		// A torn file cannot happen (save renames a complete one); a
		// corrupt one is not guessed at.
		return cp, false, fmt.Errorf("checkpoint file %s: %w", f.path, err)
	}
	if saved.Stream != stream {
		return cp, saved.Stream != "", nil
	}
	if saved.Shards != nil {
		cp.Shards = saved.Shards
	}
	return cp, false, nil
}

// save writes cp to a temporary file, syncs it and renames it over the old
// one, so that a crash leaves either the old checkpoints or the new ones.
func (f checkpointFile) save(cp checkpoints) error {
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(f.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".checkpoint-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}
