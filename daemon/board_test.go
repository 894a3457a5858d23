package daemon

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// TestBoardScrubsThePassSpecsPasswords is the race TestBoardKeepsPasswordsOffThePage (cmd) hit
// once in a full run, made deterministic: the board re-reads the spec after a pass, and the file
// can already be the next edit — an invalid one that quotes the keystore password. The password
// the pass read in the last valid spec must still be kept off the page and the journal although
// the board itself never read a valid spec.
func TestBoardScrubsThePassSpecsPasswords(t *testing.T) {
	const secret = "kEyst0re-s3cret"
	dir := t.TempDir()
	file := filepath.Join(dir, "avatar.yaml")
	if err := os.WriteFile(file, []byte("topics:\n  - { name: t, retention: "+secret+" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	cfg := Config{File: file}
	d := &daemon{cfg: cfg, log: log, gx: newGitops(&cfg, log, prometheus.NewRegistry(), false), started: time.Now()}
	b := newStatusBoard("lab", file, time.Second, dir, log, newBoardMetrics(prometheus.NewRegistry(), false))
	f := &follower{d: d, name: "lab", board: b, started: time.Now(), secrets: []string{secret}}
	passErr := errors.New(`avatar.yaml:2:29: topics[0].retention "` + secret + `" is not a duration`)

	b.afterPass(context.Background(), f, reconcile.Trigger{Reason: "file changed"}, passErr)

	page := b.page()
	if page.LastPass == nil || !strings.Contains(page.LastPass.Error, "***") || strings.Contains(page.LastPass.Error, secret) {
		t.Errorf("the page's last pass shows %+v, want the password as ***", page.LastPass)
	}
	journal, err := os.ReadFile(statuspage.JournalPath(dir, "lab"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(journal), secret) || !strings.Contains(string(journal), "***") {
		t.Errorf("the journal on disk:\n%s\nwant the password as ***", journal)
	}
}
