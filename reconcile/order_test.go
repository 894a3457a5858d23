package reconcile_test

import (
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// TestApplyExecutesInThePlansOrder: apply executes the changes in the order the plan lists them,
// the one ordering of the kind table (issue 20: "ordering is defined in three places that
// disagree"), for a plan holding a change of every Kafka kind the embedded cluster can carry out:
// adoption, topic create, partitions, config, SCRAM user, ACLs and quota creates, then the topic
// deletion and the deletions of an ACL, a quota and a credential. (Replication is left out: kfake
// accepts a reassignment but never moves the replicas.)
func TestApplyExecutesInThePlansOrder(t *testing.T) {
	e := newEnv(t)
	passwords := map[string]string{"GUI5_PASSWORD": "gui5-pw-Qz7", "DRONE_PASSWORD": "drone-pw-Qz7", "OPS_PASSWORD": "ops-pw-Qz7"}
	secrets := func(env, _ string) (string, error) {
		if pw, ok := passwords[env]; ok {
			return pw, nil
		}
		return "", errors.New(env + " is not set")
	}
	// The package's own plan and Apply (the Kafka plane alone): the order under test is the kind
	// table's and the executor's, whoever drives them.
	plan := func(want *spec.Spec) plans.Plan {
		t.Helper()
		live, err := e.admin.Describe(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		d := plans.DesiredOf(want)
		if err := reconcile.FingerprintCredentials(d.Access, live.Inventory, secrets, rand.Reader); err != nil {
			t.Fatal(err)
		}
		return reconcile.Diff(d, live, reconcile.DiffOptions{Cluster: "embedded", AllowDelete: true})
	}
	opts := reconcile.ApplyOptions{PollInterval: 10 * time.Millisecond, Secrets: secrets, AllowDelete: true, AllowDataLoss: true}
	user := func(name, env string) spec.User {
		return spec.User{Name: name, Mechanism: spec.MechanismSCRAM256, PasswordEnv: env, Iterations: 4096}
	}
	first := &spec.Spec{Deletion: spec.DeletionPrune,
		Topics: []spec.Topic{{Name: "a", Partitions: 1, ReplicationFactor: 1}, {Name: "grow", Partitions: 1, ReplicationFactor: 1},
			{Name: "old", Partitions: 1, ReplicationFactor: 1}},
		Users:    []spec.User{user("gui5", "GUI5_PASSWORD"), user("drone", "DRONE_PASSWORD")},
		Services: []spec.Service{{Name: "gui5", User: "gui5", Produces: []string{"a"}}, {Name: "drone", User: "drone", Consumes: []string{"a"}}},
		Quotas:   []spec.Quota{{User: "drone", ProducerByteRate: 1 << 20}},
	}
	if res, err := reconcile.Apply(e.ctx, plan(first), e.admin, opts, nil); err != nil || !res.Converged() {
		t.Fatalf("first apply: %v, converged %v", err, res.Converged())
	}
	if _, err := e.admin.CreateTopics(e.ctx, []spec.Topic{{Name: "adopted", Partitions: 1, ReplicationFactor: 1}}); err != nil {
		t.Fatal(err)
	}

	second := &spec.Spec{Deletion: spec.DeletionPrune,
		Topics: []spec.Topic{{Name: "a", Partitions: 1, ReplicationFactor: 1, Config: map[string]string{"retention.ms": "3600000"}},
			{Name: "adopted", Partitions: 1, ReplicationFactor: 1}, {Name: "grow", Partitions: 2, ReplicationFactor: 1},
			{Name: "new", Partitions: 1, ReplicationFactor: 1}},
		Users:    []spec.User{user("gui5", "GUI5_PASSWORD"), user("ops", "OPS_PASSWORD")},
		Services: []spec.Service{{Name: "gui5", User: "gui5", Produces: []string{"a"}}, {Name: "ops", User: "ops", Consumes: []string{"new"}}},
		Quotas:   []spec.Quota{{User: "gui5", ProducerByteRate: 1 << 20}},
	}
	p := plan(second)
	var listed []string
	kinds := map[string]bool{}
	for _, c := range p.AllChanges() {
		if c.Pending() {
			listed = append(listed, plans.Headline(c))
			kinds[c.Action.String()+" "+c.Kind.String()] = true
		}
	}
	for _, want := range []string{"update inventory", "create topic", "update partitions", "update config", "create user", "create acl",
		"create quota", "delete topic", "delete acl", "delete quota", "delete user"} {
		if !kinds[want] {
			t.Errorf("the plan has no %q change: %v", want, listed)
		}
	}
	var executed []string
	progress := func(ev plans.Event) {
		if ev.Status == plans.Running {
			executed = append(executed, plans.Headline(ev.Change))
		}
	}
	res, err := reconcile.Apply(e.ctx, p, e.admin, opts, progress)
	if err != nil || !res.Converged() {
		t.Fatalf("second apply: %v, converged %v, residual %v", err, res.Converged(), res.Residual)
	}
	if !slices.Equal(executed, listed) {
		t.Errorf("apply executed the changes in another order than the plan lists them\nplan:     %q\nexecuted: %q", listed, executed)
	}
}
