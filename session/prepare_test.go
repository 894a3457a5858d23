package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters/clustertest"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// prepareSpec writes a spec whose target "east" bootstraps from an in-process cluster, declares
// one required device nothing answers for (a tcp endpoint) and has the given preflight setting.
func prepareSpec(t *testing.T, bootstrap string, preflight bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "avatar.yaml")
	doc := fmt.Sprintf(`apiVersion: avatar-sync/v1
kind: KafkaCluster
metadata: { name: avatar, namespace: avatar }
brokers:
  - { id: 1, host: kafka-broker-1, ports: { plaintext: 9092 } }
  - { id: 2, host: kafka-broker-2, ports: { plaintext: 9093 } }
  - { id: 3, host: kafka-broker-3, ports: { plaintext: 9094 } }
topicDefaults: { partitions: 3, replicationFactor: 3 }
topics:
  - { name: eeg-brainwave-data, retention: 1h }
devices:
  - { name: bus, kind: tcp, address: %q, required: true, timeout: 1s }
clusters:
  east: { bootstrap: [%q], preflight: %v }
`, clustertest.Unreachable(t), bootstrap, preflight)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPrepareRunsThePreludeInOrder: plan, apply and watch run one prelude (issue 20). It tells its
// events in the order the steps run — the spec loaded, the plugins not run, the preflight decided
// and probed, then the targets opened — and a preflight that refuses (apply's and watch's policy)
// ends it before anything is opened; plan's policy only tells the failure, and the targets open.
func TestPrepareRunsThePreludeInOrder(t *testing.T) {
	brokers := &spec.Spec{Brokers: []spec.Broker{{ID: 1}, {ID: 2}, {ID: 3}}}
	east := clustertest.StartFor(t, brokers)
	file := prepareSpec(t, east.Bootstrap()[0], true)
	for _, refuse := range []bool{true, false} {
		t.Run(fmt.Sprintf("refuse=%v", refuse), func(t *testing.T) {
			var events []string
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			f, err := Prepare(ctx, PrepareOptions{
				File: file, Targets: "east", Plugins: true,
				Preflight: PreflightPolicy{Refuse: refuse, Hooks: PreflightHooks{
					Decided: func(d PreflightDecision) { events = append(events, "decided "+d.Why) },
					Probed: func(_ reconcile.Report, failed []reconcile.CheckResult) error {
						events = append(events, fmt.Sprintf("probed %d failed", len(failed)))
						return nil
					},
				}},
				Open: Options{Notice: func(string) {}},
				Events: PrepareEvents{
					Loaded:        func(specs []*spec.Spec) { events = append(events, fmt.Sprintf("loaded %d", len(specs))) },
					PluginsNotRun: func(d []string) { events = append(events, fmt.Sprintf("not run %d", len(d))) },
					Opening: func(names []string, _ []*spec.Spec) error {
						events = append(events, "opening "+strings.Join(names, ","))
						return nil
					},
				},
			})
			want := `loaded 1, not run 0, decided cluster "east" sets preflight: true, probed 1 failed`
			if refuse {
				var pe *PreflightError
				if !errors.As(err, &pe) || f != nil || !strings.Contains(err.Error(), "preflight: 1 required device failed, so nothing was changed: bus") {
					t.Fatalf("Prepare with a failing required device: %v, fleet %v; want *PreflightError and nothing opened", err, f)
				}
			} else {
				want += ", opening east"
				if err != nil || f == nil || f.Targets[0] == nil || f.Errs[0] != nil {
					t.Fatalf("Prepare: %v, %+v", err, f)
				}
				t.Cleanup(func() { f.Close() })
			}
			if got := strings.Join(events, ", "); got != want {
				t.Errorf("events:\n  %s\nwant\n  %s", got, want)
			}
		})
	}
}

// TestPrepareOpeningRefuses: the command's last check (apply: the saved plan, the throttle) runs
// after the prelude's and before anything connects; its error ends the prelude.
func TestPrepareOpeningRefuses(t *testing.T) {
	gone := clustertest.Unreachable(t)
	file := prepareSpec(t, gone, false)
	f, err := Prepare(t.Context(), PrepareOptions{
		File: file, Targets: "east", Open: Options{Notice: func(string) {}},
		Events: PrepareEvents{Opening: func([]string, []*spec.Spec) error { return errors.New("--plan plan.json: no such file") }},
	})
	if err == nil || err.Error() != "--plan plan.json: no such file" || f != nil {
		t.Errorf("Prepare: %v, fleet %v; want the Opening hook's error and no fleet", err, f)
	}
	// An unknown target is refused before the devices or anything else.
	_, err = Prepare(t.Context(), PrepareOptions{File: file, Targets: "east,wset", Events: PrepareEvents{
		PluginsNotRun: func([]string) { t.Error("the devices were checked for an unknown target") },
	}})
	if err == nil || !strings.Contains(err.Error(), `--cluster "wset" is not a target`) {
		t.Errorf("Prepare of an unknown target: %v", err)
	}
}

// TestPrepareKeepsTheConnection: the daemon's connections live across passes (Reuse). A spec that
// connects the target the same way keeps it; one that changes its bootstrap reopens it, saying so.
func TestPrepareKeepsTheConnection(t *testing.T) {
	brokers := &spec.Spec{Brokers: []spec.Broker{{ID: 1}, {ID: 2}, {ID: 3}}}
	east, west := clustertest.StartFor(t, brokers), clustertest.StartFor(t, brokers)
	dir := t.TempDir()
	file := filepath.Join(dir, "avatar.yaml")
	write := func(bootstrap, retention string) {
		data, err := os.ReadFile(prepareSpec(t, bootstrap, false))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(strings.Replace(string(data), "retention: 1h", "retention: "+retention, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var reconnected []string
	prepare := func(reuse *Target) *Target {
		t.Helper()
		f, err := Prepare(t.Context(), PrepareOptions{File: file, Targets: "east", Reuse: []*Target{reuse}, Open: Options{Notice: func(string) {}},
			Events: PrepareEvents{Reconnecting: func(name string) { reconnected = append(reconnected, name) }}})
		if err != nil || f.Errs[0] != nil {
			t.Fatalf("Prepare: %v %v", err, f.Errs)
		}
		return f.Targets[0]
	}
	write(east.Bootstrap()[0], "1h")
	first := prepare(nil)
	write(east.Bootstrap()[0], "2h") // a topic edited: the same connection
	if kept := prepare(first); kept != first || len(reconnected) != 0 {
		t.Errorf("a topic edit reopened the target (reconnected %v)", reconnected)
	}
	write(west.Bootstrap()[0], "2h")
	moved := prepare(first)
	t.Cleanup(func() { moved.Close() })
	if moved == first || strings.Join(reconnected, ",") != "east" || first.Admin != nil {
		t.Errorf("a new bootstrap: kept %v, reconnected %v, old connection closed %v", moved == first, reconnected, first.Admin == nil)
	}
	p, err := moved.Planner().Plan(t.Context(), mustLoad(t, file), reconcile.PlanOptions{})
	if err != nil || p.ClusterID != west.ClusterID() {
		t.Errorf("the reopened target plans cluster %q (%v), want west's %q", p.ClusterID, err, west.ClusterID())
	}
}

func mustLoad(t *testing.T, file string) *spec.Spec {
	t.Helper()
	sp, diags := spec.LoadFile(file)
	if diags.Err() != nil {
		t.Fatal(diags.Err())
	}
	return sp
}
