package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/health"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/statuspage"
)

// statusBoard holds what the watch status page shows (issue 13), refreshed after every pass: the
// pass itself, the spec revision, the cluster's health and lag (the same read as `status`),
// certificate days left and, in the background so a slow device never delays a pass, the device
// check results.
type statusBoard struct {
	g       *globalOptions
	refresh time.Duration

	mu             sync.Mutex
	data           statuspage.Data
	prev           *health.Report
	devicesRunning bool
}

func newStatusBoard(g *globalOptions, interval time.Duration) *statusBoard {
	refresh := 15 * time.Second
	if interval > 0 && interval < refresh {
		refresh = interval
	}
	return &statusBoard{g: g, refresh: refresh, data: statuspage.Data{Cluster: g.cluster, SpecFile: g.file}}
}

// page is what the handler renders, as of now.
func (b *statusBoard) page() statuspage.Data {
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.data
	d.Now, d.Refresh = time.Now(), b.refresh
	return d
}

// passAndRefreshStatus is the watch pass when the page is served: the pass, then the page's data.
func (w *watcher) passAndRefreshStatus(ctx context.Context, tr reconcile.Trigger) error {
	err := w.pass(ctx, tr)
	w.board.afterPass(ctx, w, err)
	return err
}

func (b *statusBoard) afterPass(ctx context.Context, w *watcher, passErr error) {
	now := time.Now()
	pass := &statuspage.Pass{At: now, Duration: now.Sub(w.started), Applied: w.current.applied, InSync: w.current.inSync}
	if passErr != nil {
		pass.Error = passErr.Error()
	}
	// With --git the spec is the checkout the pass read and the revision its commit (issue 12).
	g := *b.g
	g.file = w.gx.lastSpecFile(b.g.file)
	revision := w.gx.revisionLabel()
	if data, err := os.ReadFile(g.file); err == nil && revision == "" {
		sum := sha256.Sum256(data)
		revision = "sha256:" + hex.EncodeToString(sum[:6])
	}
	quiet := &streams{in: strings.NewReader(""), out: io.Discard, err: io.Discard}
	sp, diags := readSpec(ctx, &g, quiet)
	if len(diags.Errors()) > 0 {
		sp = nil
	}

	var report *health.Report
	healthErr := ""
	read := true // false: keep the previous read (an invalid spec names no topics to look at)
	if w.target != nil && sp != nil {
		r, err := sampleStatus(ctx, w.target, sp, b.g.cluster, "")
		if err != nil {
			healthErr = err.Error()
		} else {
			report = &r
		}
	} else if sp == nil {
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
	if report != nil && b.prev != nil {
		*report = health.WithRates(*b.prev, *report)
	}
	if report != nil {
		b.prev = report
	}
	b.data.LastPass, b.data.Revision, b.data.Pending = pass, revision, w.current.pending
	if read {
		b.data.Health, b.data.HealthError = report, healthErr
	}
	if sp != nil {
		b.data.Certs = certRows
	}
	startDevices := sp != nil && len(sp.Devices) > 0 && !b.devicesRunning
	b.devicesRunning = b.devicesRunning || startDevices
	b.mu.Unlock()
	if startDevices {
		go b.checkDevices(ctx, sp, quiet)
	}
}

// checkDevices probes the spec's devices (bounded like a preflight) and records the results.
func (b *statusBoard) checkDevices(ctx context.Context, sp *spec.Spec, quiet *streams) {
	defer func() {
		b.mu.Lock()
		b.devicesRunning = false
		b.mu.Unlock()
	}()
	reg, _, err := validateDevices(ctx, quiet, sp, true) // as watch itself: the daemon runs the spec it is given
	if err != nil {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	rep, err := reconcile.Preflight(pctx, sp.Devices, reg)
	if err != nil {
		return
	}
	rows := make([]statuspage.Device, 0, len(rep.Results))
	for _, r := range rep.Results {
		rows = append(rows, statuspage.Device{Name: r.Device, Kind: r.Kind, Required: r.Required, OK: !r.Failed(), Status: r.Status.String(), Detail: r.Detail})
	}
	b.mu.Lock()
	b.data.Devices = rows
	b.mu.Unlock()
}

// enableStatusPage makes the metrics server also serve the status page on "/".
func (w *watcher) enableStatusPage() {
	w.board = newStatusBoard(w.g, w.o.interval)
	w.board.data.SpecFile = w.gx.specSource(w.g.file)
	w.metrics.page = statuspage.Handler(w.board.page)
}
