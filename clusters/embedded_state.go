package clusters

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrDamagedState means the embedded cluster's state directory holds files that do not load.
// kfake would start anyway: it drops a partition's records from the first bad byte on and truncates
// the segment file to match, and a missing topics.json gives an empty cluster (issue 10). So
// avatar-sync refuses to start on such a directory and leaves every file as it found it.
var ErrDamagedState = errors.New("embedded cluster state is damaged")

// castagnoli is the CRC Kafka record batches and kfake's log entries carry.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkState reads everything kfake will load from dataDir and reports every file that would not
// load completely, each with its path and how to recover. A directory without meta.json and
// without partition data is a fresh one and passes.
func checkState(dataDir string) error {
	var errs []error
	damaged := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	meta := filepath.Join(dataDir, "meta.json")
	_, metaErr := os.Stat(meta)
	known := map[string]bool{}
	topicsFile := filepath.Join(dataDir, "topics.json")
	switch b, err := os.ReadFile(topicsFile); {
	case errors.Is(err, fs.ErrNotExist) && metaErr == nil:
		damaged(topicsFile, "missing (kfake writes it with meta.json); the cluster would start without any topic")
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("%w: %w", ErrDamagedState, err)
	default:
		var pt struct {
			Topics []struct {
				Name       string `json:"name"`
				Partitions int    `json:"partitions"`
			} `json:"topics"`
		}
		if err := json.Unmarshal(b, &pt); err != nil {
			damaged(topicsFile, "does not parse: %v", err)
		}
		for _, t := range pt.Topics {
			for p := range t.Partitions {
				known[fmt.Sprintf("%s-%d", url.PathEscape(t.Name), p)] = true
			}
		}
	}
	for _, name := range []string{"meta.json", "acls.json", "sasl.json", "broker_configs.json", "quotas.json", "seq_windows.json", "session_state.json"} {
		p := filepath.Join(dataDir, name)
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDamagedState, err)
		}
		if !json.Valid(b) {
			damaged(p, "is not valid JSON (%d bytes)", len(b))
		}
	}
	for _, name := range []string{"groups.log", "pids.log", "topics.log"} {
		p := filepath.Join(dataDir, name)
		if good, size, _, err := framedLogPrefix(p); err != nil {
			return fmt.Errorf("%w: %w", ErrDamagedState, err)
		} else if good < size {
			damaged(p, "only the first %d of %d bytes are intact; keep a copy, then `truncate -s %d %s` to accept losing the rest", good, size, good, p)
		}
	}

	partitions := filepath.Join(dataDir, "partitions")
	// Not a directory (or unreadable): no records to lose here, and checkWritable says why kfake
	// cannot use it.
	entries, _ := os.ReadDir(partitions)
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		pdir := filepath.Join(partitions, e.Name())
		segs, err := os.ReadDir(pdir)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrDamagedState, err)
		}
		var records int64
		for _, s := range segs {
			base, ok := strings.CutSuffix(s.Name(), ".dat")
			if _, err := strconv.ParseInt(base, 10, 64); !ok || err != nil {
				continue
			}
			p := filepath.Join(pdir, s.Name())
			good, size, err := segmentPrefix(p)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrDamagedState, err)
			}
			records += size
			if good < size {
				damaged(p, "only the first %d of %d bytes are intact record batches (a damaged byte or an interrupted write); kfake would drop the rest of the partition. Keep a copy, then `truncate -s %d %s` to accept losing it", good, size, good, p)
			}
		}
		if records > 0 && !known[e.Name()] {
			damaged(pdir, "holds %d bytes of records of a partition topics.json does not list", records)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w in %s; avatar-sync will not start on it and has changed nothing. Keep the directory for recovery (or move it aside to start an empty cluster): %w", ErrDamagedState, dataDir, err)
	}
	return nil
}

// segmentPrefix returns how many leading bytes of a segment file are whole Kafka record batches
// (v2, CRC-32C intact) and the file's size, as kfake reads it.
func segmentPrefix(path string) (good, size int64, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	pos := 0
	for pos+21 <= len(raw) {
		length := int(int32(binary.BigEndian.Uint32(raw[pos+8 : pos+12])))
		end := pos + 12 + length
		if length < 9 || end > len(raw) || raw[pos+16] != 2 {
			break
		}
		if binary.BigEndian.Uint32(raw[pos+17:pos+21]) != crc32.Checksum(raw[pos+21:end], castagnoli) {
			break
		}
		pos = end
	}
	return int64(pos), int64(len(raw)), nil
}

// framedLogPrefix does the same for kfake's append logs ([len][crc][version+data] entries), and
// counts the whole entries.
func framedLogPrefix(path string) (good, size int64, entries int, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, 0, nil
	}
	if err != nil {
		return 0, 0, 0, err
	}
	pos := 0
	for ; pos+10 <= len(raw); entries++ {
		length := int(binary.LittleEndian.Uint32(raw[pos : pos+4]))
		end := pos + 8 + length
		if length < 2 || end > len(raw) || end < pos {
			break
		}
		if binary.LittleEndian.Uint32(raw[pos+4:pos+8]) != crc32.Checksum(raw[pos+8:end], castagnoli) {
			break
		}
		pos = end
	}
	return int64(pos), int64(len(raw)), entries, nil
}

// copyState copies dataDir into dst for a read-only start (plan): kfake then loads, and on Close
// saves, the copy, never the user's files. Records are copied too, so offsets read through the copy
// are the real ones. Not hard links: kfake rewrites segments in place (compaction, index repair).
func copyState(dataDir, dst string) error {
	return filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == dataDir {
				return filepath.SkipDir
			}
			return err
		}
		rel, err := filepath.Rel(dataDir, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() || d.Name() == stateLock {
			return nil
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// makePrivate gives the state directory and everything in it modes 0700/0600: it holds every
// record produced to the embedded cluster, including those sent over mutual TLS (issue 10). kfake
// creates files 0644 and directories 0755 whatever we ask; below a 0700 directory no other user can
// reach them, and files already there are tightened when a writable cluster opens the directory.
func makePrivate(stateDir string) error {
	return filepath.WalkDir(stateDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			want = 0o700
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm() == want {
			return nil
		}
		if err := os.Chmod(p, want); err != nil {
			return fmt.Errorf("embedded cluster state directory (--state-dir): make %s private: %w", p, err)
		}
		return nil
	})
}
