// Package session is the engine's pipeline below cmd (issue 20): it opens the targets a command
// names (the Kafka plane through clusters, the Kubernetes plane through kube), keeps one
// reconcile.Planner per target, and runs plan → apply → continue-deferred for plan, apply and
// watch alike. It prints nothing: what the user sees is cmd's choice of a report view.
package session

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/kube"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Options are how a command connects its targets.
type Options struct {
	StateDir           string
	InsecureSkipVerify bool
	// Serve is set by long-running commands (watch): an embedded cluster they start is announced
	// in the state directory, so plan/apply in another terminal join it rather than wait 30 s
	// for the directory and fail.
	Serve bool
	// ReadOnly is set by plan and status: the embedded cluster runs on a copy of its state and
	// saves nothing (issue 10).
	ReadOnly bool
	// Objects is set by plan, apply, status and watch: a target with kubernetes: also connects
	// its Kubernetes plane, and may plan it while the brokers do not answer yet (issue 11).
	Objects bool
	// Notice receives what the cluster adapter wants the user to know (an apply lock taken over
	// from a dead holder). Required.
	Notice func(msg string)
	// Waiting is told when the embedded cluster's state directory is busy and Open waits for it.
	Waiting func(busy error)
	// Getenv resolves the spec's password references (nil: os.Getenv).
	Getenv func(string) string
	// Now is the clock certificate advisories judge expiry by (nil: time.Now).
	Now func() time.Time
}

// Target is one connected cluster target: a name, its pinned identity and its planes.
type Target struct {
	Name   string
	Pinned string // the spec's clusterId for this target ("" = not pinned)
	// Namespace is the Kubernetes namespace of a target with kubernetes: ("" otherwise): the
	// Kubernetes half of its pinned identity.
	Namespace string
	// Admin is the Kafka plane; nil when the brokers of a target with kubernetes: did not answer
	// (KafkaErr says why).
	Admin    *clusters.Admin
	KafkaErr error
	// Objects is the Kubernetes plane (nil = no kubernetes: block, or not asked for).
	Objects *kube.Plane

	opts Options
	// settings are the target's settings in the spec it was opened with (Prepare reopens it
	// when a later spec connects it otherwise).
	settings spec.Cluster
	// pl is the target's one planner: it remembers the live state it planned from, so apply
	// verifies the plan without reading the cluster again (issue 20). Rebuilt when the Kafka
	// plane connects later (a fresh cluster): plAdmin is the Admin it was built on.
	pl      *reconcile.Planner
	plAdmin *clusters.Admin
}

// Open connects the target name of sp (starting the embedded cluster when that is the target).
func Open(ctx context.Context, sp *spec.Spec, name string, o Options) (*Target, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	t := &Target{Name: name, opts: o}
	if o.Objects {
		var err error
		if t.Objects, err = openObjects(ctx, sp, name, o.Getenv); err != nil {
			return nil, err
		}
	}
	if err := t.openKafka(ctx, sp); err != nil && t.Objects == nil {
		return nil, err
	}
	if c, err := sp.Target(name); err == nil {
		t.settings = c
		t.Pinned = c.ClusterID
		if c.Kubernetes != nil {
			t.Namespace = firstNonEmpty(c.Kubernetes.Namespace, sp.Metadata.Namespace)
		}
	}
	return t, nil
}

// openKafka connects the Kafka plane. For a target with a Kubernetes plane a failure is kept in
// KafkaErr: on a fresh cluster the brokers do not exist until apply creates them.
func (t *Target) openKafka(ctx context.Context, sp *spec.Spec) error {
	a, err := clusters.Open(ctx, sp, t.Name, clusters.Options{
		StateDir: t.opts.StateDir, InsecureSkipVerify: t.opts.InsecureSkipVerify, Advertise: t.opts.Serve, ReadOnly: t.opts.ReadOnly,
		Waiting: t.opts.Waiting,
		Notice:  t.opts.Notice,
	})
	t.Admin, t.KafkaErr = a, err
	return err
}

// Planner is the one producer of plans for this target (reconcile.Planner); commands only choose
// what to do with the plan.
func (t *Target) Planner() *reconcile.Planner {
	if t.pl != nil && t.plAdmin == t.Admin {
		return t.pl
	}
	// Interface values stay nil unless set: a nil *Admin in an interface is not a nil Cluster.
	var kafka reconcile.Cluster
	if t.Admin != nil {
		kafka = t.Admin
	}
	return t.plannerOn(kafka)
}

// plannerOn builds the target's planner with kafka as its Kafka plane's cluster (nil: the brokers
// did not answer; KafkaErr says why): the reconcile.Target of this target's name, pin and planes,
// the Kubernetes objects first (topic changes need the brokers they run).
func (t *Target) plannerOn(kafka reconcile.Cluster) *reconcile.Planner {
	rt := reconcile.Target{Name: t.Name, ClusterID: t.Pinned, Namespace: t.Namespace}
	if t.Objects != nil {
		rt.Planes = append(rt.Planes, reconcile.ObjectsPlane(t.Objects))
	}
	rt.Planes = append(rt.Planes, reconcile.KafkaPlane(kafka, t.KafkaErr))
	t.pl, t.plAdmin = &reconcile.Planner{Target: rt, Certs: CertAdvisories, Now: t.opts.Now}, t.Admin
	return t.pl
}

// Follow points the Kubernetes plane at the objects sp renders now (watch: each pass follows its
// own spec, an image change, not the one the target was opened with).
func (t *Target) Follow(sp *spec.Spec) error {
	if t.Objects == nil {
		return nil
	}
	want, err := KubeDesired(sp, t.Name, t.opts.Getenv)
	if err != nil {
		return fmt.Errorf("target %s: %w", t.Name, err)
	}
	t.Objects.Desired = want
	return nil
}

// Close closes the Kafka plane. For the embedded target Close is where the state is saved, so
// its error matters.
func (t *Target) Close() error {
	if t == nil || t.Admin == nil {
		return nil
	}
	err := t.Admin.Close()
	t.Admin = nil
	return err
}

// WaitForKafka connects the Kafka plane of a fresh cluster once its brokers answer, retrying for
// up to timeout (issue 11: apply creates the brokers, then plans the topics).
func (t *Target) WaitForKafka(ctx context.Context, sp *spec.Spec, timeout time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if t.openKafka(wctx, sp) == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("target %s: the brokers did not answer within %s (%v); the Kubernetes objects are applied: run apply again once the brokers answer", t.Name, timeout, t.KafkaErr)
		case <-time.After(2 * time.Second):
		}
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
