package statuspage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// JournalLimit is how many passes the journal keeps: about a day of passes at the default 5m
// interval, and a few dozen kilobytes on disk.
const JournalLimit = 200

// Entry is one finished watch pass in the journal.
type Entry struct {
	At       time.Time     `json:"at"`
	Trigger  string        `json:"trigger"`
	Revision string        `json:"revision"`
	Subject  string        `json:"subject,omitempty"` // the commit subject with --git
	Applied  int           `json:"applied"`
	Result   string        `json:"result"` // "ok", "error" or "interrupted"
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNanos"`
}

// OK reports whether the pass succeeded.
func (e Entry) OK() bool { return e.Result == "ok" }

// Journal is the last passes of the daemon, newest last, kept in one JSON file in the state
// directory so the page shows them across restarts. It is written whole (a temporary file
// renamed over the old one), so a crash mid-write leaves the previous journal.
type Journal struct {
	Path    string
	Entries []Entry
}

// JournalPath is where the daemon keeps the journal of a target.
func JournalPath(stateDir, cluster string) string {
	return filepath.Join(stateDir, "watch-journal-"+cluster+".json")
}

// LoadJournal reads the journal at path; a missing file is an empty journal. A damaged one is an
// error naming the file (the daemon logs it and starts a new journal).
func LoadJournal(path string) (*Journal, error) {
	j := &Journal{Path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return j, fmt.Errorf("read the pass journal: %w", err)
	}
	if err := json.Unmarshal(data, &j.Entries); err != nil {
		return j, fmt.Errorf("read the pass journal %s: %w (delete the file to start a new one)", path, err)
	}
	j.Entries = bounded(j.Entries)
	return j, nil
}

// Append adds a pass and writes the journal, keeping the newest JournalLimit passes.
func (j *Journal) Append(e Entry) error {
	j.Entries = bounded(append(j.Entries, e))
	data, err := json.MarshalIndent(j.Entries, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(j.Path), 0o755); err != nil {
		return fmt.Errorf("write the pass journal: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(j.Path), ".watch-journal-*")
	if err != nil {
		return fmt.Errorf("write the pass journal: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write the pass journal %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the pass journal %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), j.Path); err != nil {
		return fmt.Errorf("write the pass journal: %w", err)
	}
	return nil
}

func bounded(es []Entry) []Entry {
	if len(es) > JournalLimit {
		es = append([]Entry(nil), es[len(es)-JournalLimit:]...)
	}
	return es
}

// Revisions decides what the page says about revisions from the journal: the one in force (the
// revision of the newest successful pass) and, when the newest pass that ran a different revision
// failed, that failed revision with its error. Interrupted passes say nothing either way.
func Revisions(es []Entry) (inForce, failed *Entry) {
	for i := len(es) - 1; i >= 0; i-- {
		e := es[i]
		if e.Result == "interrupted" {
			continue
		}
		if e.OK() {
			inForce = &es[i]
			break
		}
		if failed == nil {
			failed = &es[i]
		}
	}
	if failed != nil && inForce != nil && failed.Revision == inForce.Revision && failed.At.Before(inForce.At) {
		failed = nil
	}
	return inForce, failed
}
