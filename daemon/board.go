package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/notify"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/session"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// statusBoard holds what a target's status page shows (issues 13 and 24), refreshed after every
// pass: the pass itself and the journal of the last passes (kept in the state directory across
// restarts), the revision in force and a failed one, the cluster's health, throughput and lag
// (the same read as `status`) with their last hour, the Kubernetes plane, certificate days left
// and, in the background so a slow device never delays a pass, the device check results. The
// same numbers are exported on /metrics (boardMetrics).
type statusBoard struct {
	name    string
	refresh time.Duration
	log     *slog.Logger
	metrics *boardMetrics

	mu             sync.Mutex
	secrets        []string // the last valid spec's passwords, kept off the page and the journal
	data           statuspage.Data
	prev           *health.Report
	history        statuspage.History
	journal        *statuspage.Journal
	devicesRunning bool
}

func newStatusBoard(name, file string, interval time.Duration, stateDir string, log *slog.Logger, metrics *boardMetrics) *statusBoard {
	// The page updates with the passes, but never more often than every 5 s: a browser left open
	// on a wall screen must not become load.
	refresh := 15 * time.Second
	if interval > 0 && interval < refresh {
		refresh = max(5*time.Second, interval)
	}
	b := &statusBoard{name: name, refresh: refresh, log: log, metrics: metrics, data: statuspage.Data{Cluster: name, SpecFile: file}}
	j, err := statuspage.LoadJournal(statuspage.JournalPath(stateDir, name))
	if err != nil {
		log.Warn("starting a new pass journal", "err", err)
	}
	b.journal = j
	b.data.InForce, b.data.Failed = revisions(j.Entries)
	b.data.Journal = append([]statuspage.Entry(nil), j.Entries...)
	return b
}

// revisions is statuspage.Revisions with copies, safe to keep while the journal grows.
func revisions(es []statuspage.Entry) (inForce, failed *statuspage.Entry) {
	in, f := statuspage.Revisions(es)
	if in != nil {
		c := *in
		inForce = &c
	}
	if f != nil {
		c := *f
		failed = &c
	}
	return inForce, failed
}

// page is what the handler renders, as of now.
func (b *statusBoard) page() statuspage.Data {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.data
	d.Now, d.Refresh = time.Now(), b.refresh
	d.History = b.history.Copy()
	d.Journal = append([]statuspage.Entry(nil), b.data.Journal...)
	return d
}

// enableStatusPage makes the metrics server also serve the status page: "/" for the first target
// and, in a fleet, /clusters/<name> for each.
func (d *daemon) enableStatusPage() {
	bm := newBoardMetrics(d.metrics.reg, d.fleet)
	d.metrics.pages, d.metrics.first = map[string]http.Handler{}, d.cfg.Targets[0]
	for _, f := range d.targets {
		f.board = newStatusBoard(f.name, d.gx.specSource(d.cfg.File), d.cfg.Interval, d.cfg.Session.StateDir, d.log, bm)
		d.metrics.pages[f.name] = statuspage.Handler(f.board.page)
	}
}

// paths are the server's paths, for the start-up line.
func (d *daemon) paths() string {
	p := "/ /metrics /healthz /readyz"
	if d.fleet && d.cfg.MetricsAddr != "" {
		p += " /clusters/{" + strings.Join(d.cfg.Targets, ",") + "}"
	}
	return p
}

func (b *statusBoard) afterPass(ctx context.Context, f *follower, tr reconcile.Trigger, passErr error) {
	now := time.Now()
	gx := f.d.gx
	pass := &statuspage.Pass{At: now, Duration: now.Sub(f.started), Applied: f.current.applied, InSync: f.current.inSync}
	entry := statuspage.Entry{At: now, Trigger: tr.Reason, Applied: f.current.applied, Result: "ok", Duration: pass.Duration}
	switch {
	case f.current.interrupted || ctx.Err() != nil:
		entry.Result = "interrupted"
	case passErr != nil:
		pass.Error = passErr.Error()
		entry.Result, entry.Error = "error", passErr.Error()
	}
	// With --git the spec is the checkout the pass read and the revision its commit (issue 12).
	file := gx.lastSpecFile(f.d.cfg.File)
	revision := gx.revisionLabel()
	entry.Revision, entry.Subject = gx.rev.Short(), gx.rev.Subject
	if data, err := os.ReadFile(file); err == nil && revision == "" {
		sum := sha256.Sum256(data)
		revision = "sha256:" + hex.EncodeToString(sum[:6])
		entry.Revision = revision
	}
	sp, diags := session.ReadSpec(ctx, file, strings.NewReader(""), b.name)
	if len(diags.Errors()) > 0 {
		sp = nil
	}
	// An error can quote a password (a spec error echoes the value it rejects): the page is read
	// by anyone on the lab's network and the journal is kept on disk, so neither shows one.
	if sp != nil {
		b.mu.Lock()
		b.secrets = specSecrets(sp)
		b.mu.Unlock()
	}
	// The pass's own spec counts too: the file re-read here may already be the next edit, an
	// invalid one whose error quotes a password the board never saw in a valid spec.
	b.mu.Lock()
	scrub := notify.Scrubber(append(slices.Clone(b.secrets), f.secrets...)) // the webhooks' cleaning: secrets and URL user information
	b.mu.Unlock()
	pass.Error, entry.Error, entry.Subject = scrub(pass.Error), scrub(entry.Error), scrub(entry.Subject)
	revision = scrub(revision)

	var report *health.Report
	healthErr := ""
	read := true // false: keep the previous read (an invalid spec names no topics to look at)
	if f.target != nil && sp != nil && ctx.Err() == nil {
		r, err := session.Sample(ctx, f.target, sp, b.name, "", f.d.cfg.Mode)
		if err != nil {
			healthErr = err.Error()
		} else {
			report = &r
		}
	} else if sp == nil || ctx.Err() != nil {
		read = false
	} else {
		healthErr = "the last pass did not reach the cluster"
	}
	var certRows []statuspage.Cert
	if sp != nil && sp.TLS.Enabled {
		if src, err := certs.Load(sp); err == nil {
			if sts, err := certs.Status(sp, src, now); err == nil {
				for _, st := range sts {
					certRows = append(certRows, statuspage.Cert{Name: st.Name, Status: string(st.Status), DaysLeft: st.DaysLeft, NotAfter: st.NotAfter})
				}
			}
		}
	}

	b.mu.Lock()
	if err := b.journal.Append(entry); err != nil {
		b.log.Warn("pass journal not written", "err", err)
	}
	b.data.Journal = append([]statuspage.Entry(nil), b.journal.Entries...)
	b.data.InForce, b.data.Failed = revisions(b.journal.Entries)
	if report != nil && b.prev != nil {
		*report = health.WithRates(*b.prev, *report)
	}
	if report != nil {
		b.prev = report
		b.history.Add(*report)
		b.metrics.observe(b.name, *report)
	}
	b.data.LastPass, b.data.Revision, b.data.Pending = pass, revision, f.current.pending
	if read {
		b.data.Health, b.data.HealthError = report, healthErr
		if report != nil {
			b.data.Kubernetes = report.Kubernetes
		}
	}
	if sp != nil {
		b.data.Certs = certRows
		b.data.NoDevices = len(sp.Devices) == 0
		if b.data.NoDevices {
			b.data.Devices = nil
		}
	}
	startDevices := sp != nil && len(sp.Devices) > 0 && !b.devicesRunning && ctx.Err() == nil
	b.devicesRunning = b.devicesRunning || startDevices
	b.mu.Unlock()
	if startDevices {
		go b.checkDevices(ctx, sp, f.d.gx.runPlugins())
	}
}

// checkDevices probes the spec's devices (bounded like a preflight) and records the results. Like
// the pass, it runs the external plugins a followed branch names only with --plugins (plugins):
// the devices they serve are then left off the page.
func (b *statusBoard) checkDevices(ctx context.Context, sp *spec.Spec, plugins bool) {
	defer func() {
		b.mu.Lock()
		b.devicesRunning = false
		b.mu.Unlock()
	}()
	dc, err := session.CheckDevices(ctx, sp, plugins)
	if err != nil {
		return
	}
	probe := slices.DeleteFunc(slices.Clone(sp.Devices), func(d spec.Device) bool { return slices.Contains(dc.NotRun, d.Name) })
	rep, _, err := session.Probe(ctx, probe, dc.Registry)
	if err != nil {
		return
	}
	probed := time.Now()
	rows := make([]statuspage.Device, 0, len(rep.Results))
	for _, r := range rep.Results {
		rows = append(rows, statuspage.Device{Name: r.Device, Kind: r.Kind, Required: r.Required, OK: !r.Failed(), Status: r.Status.String(), Detail: r.Detail, ProbedAt: probed})
	}
	b.metrics.observeDevices(b.name, rows)
	b.mu.Lock()
	b.data.Devices = rows
	b.mu.Unlock()
}
