package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/spec"
)

// ErrRefused is matched by every error Apply returns for a plan it will not execute (unsupported
// changes, missing opt-ins, consumer groups on a topic to delete); nothing was changed.
var ErrRefused = errors.New("apply refused")

// ErrClusterMismatch is matched when the live cluster is not the one the spec or plan names.
var ErrClusterMismatch = errors.New("wrong cluster")

// ApplyOptions are the opt-ins and limits of one Apply.
type ApplyOptions struct {
	// ExpectClusterID is the target's pinned clusterId from the spec ("" = not pinned).
	ExpectClusterID string
	// AllowDataLoss permits RiskDataLoss changes (--allow-data-loss).
	AllowDataLoss bool
	// AllowDelete permits topic deletions (--allow-delete).
	AllowDelete bool
	// Force deletes topics even while consumer groups hold offsets on them (--force).
	Force bool
	// ThrottleBytesPerSec limits replication during reassignments (0 = no throttle).
	ThrottleBytesPerSec int64
	// Holder names this apply in the lease; default "user@host pid N".
	Holder string
	// LeaseTTL bounds how long a crashed apply keeps the lock; default ReassignTimeout + 5m.
	LeaseTTL time.Duration
	// LockWait is how long to wait for another apply's lease before giving up (0 = fail at once).
	LockWait time.Duration
	// ReassignTimeout bounds the wait for reassignments to finish; default 10m.
	ReassignTimeout time.Duration
	// PollInterval is how often lock and reassignment waits re-check; default 1s.
	PollInterval time.Duration
	// Want and Diff are used to prove convergence: after applying, the live state is read again and
	// Diff(Want, live, Diff) must have no pending changes. Without Want the check is skipped.
	Want *spec.Spec
	Diff DiffOptions
}

func (o *ApplyOptions) defaults() {
	if o.ReassignTimeout <= 0 {
		o.ReassignTimeout = 10 * time.Minute
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = o.ReassignTimeout + 5*time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.Holder == "" {
		o.Holder = DefaultHolder()
	}
}

// DefaultHolder identifies this process in the apply lock: "user@host pid N".
func DefaultHolder() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s pid %d", name, host, os.Getpid())
}

// Status is where one change stands after Apply.
type Status int

// Statuses.
const (
	NotAttempted Status = iota // never sent: an earlier step failed or the apply was refused
	Running                    // sent, waiting for the cluster (progress events only)
	Applied
	Failed
)

var statusNames = []string{"not attempted", "running", "applied", "failed"}

// String names the status in progress lines and summaries.
func (s Status) String() string { return enumName(statusNames, int(s)) }

// ChangeResult is the outcome of one pending change.
type ChangeResult struct {
	Change Change
	Status Status
	Err    error
}

// Result says exactly what Apply did: every pending change of the plan with its status, and what
// a fresh diff still finds afterwards.
type Result struct {
	ClusterID string
	Changes   []ChangeResult
	// Verified is set when the live state was re-read and diffed after applying.
	Verified bool
	// Residual are the pending changes the verifying diff still found (empty = converged).
	Residual []Change
}

// Count returns how many changes ended with status s.
func (r Result) Count(s Status) int {
	n := 0
	for _, c := range r.Changes {
		if c.Status == s {
			n++
		}
	}
	return n
}

// Converged reports whether the verifying diff found nothing left to do.
func (r Result) Converged() bool { return r.Verified && len(r.Residual) == 0 }

// Event is one progress report: a change started (Running) or finished (Applied/Failed), or a
// wait made progress (Message set).
type Event struct {
	Index, Total int
	Change       Change
	Status       Status
	Err          error
	Message      string
}

// Progress receives events; it is called synchronously from Apply and must not block for long.
type Progress func(Event)

// Apply executes a plan against a cluster. It is the only function in avatar-sync that changes a
// cluster, and it does so in this order:
//
//  1. Read the live state and check the cluster's identity: refuse when the spec pins a clusterId
//     or the plan was computed against a cluster and the live id differs. Nothing else happens
//     before this check (a dev spec must never land on the lab cluster, issue #3).
//  2. Check the plan against the opt-ins: unsupported changes are refused, data-loss changes need
//     AllowDataLoss, deletions need AllowDelete. Every problem is reported, not just the first.
//  3. Take the cluster-wide lease, so two applies never interleave (waiting up to LockWait).
//  4. Read the live state again under the lease and refuse the plan as stale when its fingerprint
//     changed: the plan was reviewed against a state that no longer exists.
//  5. Refuse deleting topics that consumer groups still hold offsets on, naming the groups,
//     unless Force.
//  6. Execute by phase, one batched request per phase: create topics, add partitions, alter
//     configs, reassign replicas (throttled, waiting up to ReassignTimeout, throttle cleared
//     afterwards), delete topics. A failing phase stops the apply; the Result lists what was
//     applied, what failed and what was not attempted. Every step is idempotent against the
//     state it leaves, so running apply again finishes the job.
//  7. Read the live state once more and diff it against Want: the Result's Residual is what did
//     not converge.
//
// Changes of KindCert are skipped (the caller applies them with the certs package) and do not
// appear in the Result. The returned error is nil only when every change was applied and the
// cluster converged.
func Apply(ctx context.Context, plan Plan, cluster Cluster, opts ApplyOptions, progress Progress) (Result, error) {
	opts.defaults()
	if progress == nil {
		progress = func(Event) {}
	}
	var res Result
	var pending []Change
	for _, c := range plan.Changes {
		// Certificate changes are carried out by the caller (cmd, with the certs package); Apply
		// owns only what the Cluster can do.
		if c.Pending() && c.Kind != KindCert {
			pending = append(pending, c)
			res.Changes = append(res.Changes, ChangeResult{Change: c})
		}
	}

	// 1. Identity.
	live, err := cluster.Describe(ctx)
	if err != nil {
		return res, fmt.Errorf("read live state: %w", err)
	}
	res.ClusterID = live.ClusterID
	if err := CheckClusterID(opts.ExpectClusterID, plan, live.ClusterID); err != nil {
		return res, err
	}

	// 2. Opt-ins.
	if err := CheckAllowed(plan, opts); err != nil {
		return res, err
	}
	if len(pending) == 0 {
		return verify(ctx, res, live, nil, opts)
	}

	// 3. Lease.
	lease, err := acquire(ctx, cluster, opts, progress)
	if err != nil {
		return res, err
	}
	defer func() {
		// Release even when ctx is cancelled: a lingering lease blocks everyone until its TTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := lease.Release(rctx); err != nil {
			progress(Event{Status: Failed, Err: err, Message: fmt.Sprintf("could not release the apply lock; other applies wait until it expires (TTL %s)", opts.LeaseTTL)})
		}
	}()

	// 4. Staleness, under the lease.
	live, err = cluster.Describe(ctx)
	if err != nil {
		return res, fmt.Errorf("read live state: %w", err)
	}
	if fp := Fingerprint(live); fp != plan.Fingerprint {
		return res, fmt.Errorf("%w: the cluster changed since the plan was computed (plan %s, live %s); run plan again and review the new plan", ErrStalePlan, short(plan.Fingerprint), short(fp))
	}

	// 5. Consumer groups on topics to delete.
	if err := checkGroups(ctx, cluster, pending, opts.Force); err != nil {
		return res, err
	}

	// 6. Execute.
	ex := &executor{cluster: cluster, opts: opts, progress: progress, res: &res}
	for _, ph := range []func(context.Context) bool{ex.create, ex.partitions, ex.configs, ex.reassign, ex.delete} {
		if !ph(ctx) {
			break
		}
	}
	var failed error
	if n := res.Count(Failed); n > 0 {
		failed = fmt.Errorf("apply stopped: %d applied, %d failed, %d not attempted; fix the cause and run apply again to finish", res.Count(Applied), n, res.Count(NotAttempted))
	}

	// 7. Convergence.
	after, err := cluster.Describe(ctx)
	if err != nil {
		return res, errors.Join(failed, fmt.Errorf("re-read live state to verify: %w", err))
	}
	res, verr := verify(ctx, res, after, failed, opts)
	return res, verr
}

// CheckClusterID refuses a live cluster whose id differs from the spec's pinned id or from the id
// the plan was computed against. plan and apply call it before anything else.
func CheckClusterID(pinned string, plan Plan, liveID string) error {
	if pinned != "" && liveID != pinned {
		return fmt.Errorf("%w: the spec pins clusterId %q for target %q but the live cluster id is %q; check --cluster and the bootstrap addresses", ErrClusterMismatch, pinned, plan.Cluster, liveID)
	}
	if plan.ClusterID != "" && liveID != plan.ClusterID {
		return fmt.Errorf("%w: the plan was computed against cluster id %q but the live cluster id is %q; run plan against this cluster", ErrClusterMismatch, plan.ClusterID, liveID)
	}
	return nil
}

func verify(_ context.Context, res Result, live Live, failed error, opts ApplyOptions) (Result, error) {
	if opts.Want == nil {
		return res, failed
	}
	res.Verified = true
	for _, c := range Diff(opts.Want, live, opts.Diff).Changes {
		if c.Pending() {
			res.Residual = append(res.Residual, c)
		}
	}
	if len(res.Residual) > 0 && failed == nil {
		var names []string
		for _, c := range res.Residual {
			names = append(names, Headline(c))
		}
		return res, fmt.Errorf("the cluster did not converge: a fresh plan still has %d change(s): %s", len(names), strings.Join(names, "; "))
	}
	return res, failed
}

func short(fp string) string {
	if len(fp) > 19 {
		return fp[:19]
	}
	return fp
}

// CheckAllowed returns the ErrRefused error Apply would give the plan under opts' opt-ins
// (unsupported changes, data loss without AllowDataLoss, topic deletions without AllowDelete — a
// deletion needs only that opt-in) for the changes Apply executes (not KindCert), listing
// every offending change; nil when the opt-ins cover the plan. It is pure, so apply can refuse before
// asking for confirmation.
func CheckAllowed(plan Plan, opts ApplyOptions) error {
	var errs []error
	for _, c := range plan.Changes {
		switch {
		case !c.Pending(), c.Kind == KindCert:
		case c.Action == Unsupported:
			// Headline already starts with "unsupported"; the reason says what to do instead.
			errs = append(errs, fmt.Errorf("%s: %s", Headline(c), c.Reason))
		case c.Action == Delete:
			// A deletion has its own opt-in (and the spec's deletion: prune); asking for
			// --allow-data-loss on top would only teach people to pass every flag.
			if !opts.AllowDelete {
				errs = append(errs, fmt.Errorf("%s needs --allow-delete", Headline(c)))
			}
		case c.Risk == RiskDataLoss && !opts.AllowDataLoss:
			errs = append(errs, fmt.Errorf("%s can lose data (%s): it needs --allow-data-loss", Headline(c), c.Reason))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w, nothing was changed:\n%w", ErrRefused, errors.Join(errs...))
}

func acquire(ctx context.Context, cluster Cluster, opts ApplyOptions, progress Progress) (Lease, error) {
	deadline := time.Now().Add(opts.LockWait)
	var told LeaseHeldError // the holder last reported: one progress line per holder, not per poll
	for {
		lease, err := cluster.AcquireLease(ctx, opts.Holder, opts.LeaseTTL)
		if err == nil {
			return lease, nil
		}
		var held *LeaseHeldError
		if !errors.As(err, &held) || time.Now().After(deadline) {
			return nil, fmt.Errorf("take the apply lock: %w", err)
		}
		if held.Holder != told.Holder || !held.Expires.Equal(told.Expires) {
			told = *held
			progress(Event{Status: Running, Message: fmt.Sprintf("waiting up to %s for the apply lock held by %s (expires %s)",
				opts.LockWait, held.Holder, held.Expires.UTC().Format(time.RFC3339))})
		}
		if err := sleep(ctx, opts.PollInterval); err != nil {
			return nil, fmt.Errorf("wait for the apply lock held by %s: %w", held.Holder, err)
		}
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func checkGroups(ctx context.Context, cluster Cluster, pending []Change, force bool) error {
	var deletes []string
	for _, c := range pending {
		if c.Action == Delete && c.Kind == KindTopic {
			deletes = append(deletes, c.Name)
		}
	}
	if len(deletes) == 0 || force {
		return nil
	}
	groups, err := cluster.GroupsWithOffsets(ctx, deletes)
	if err != nil {
		return fmt.Errorf("check consumer groups on topics to delete: %w", err)
	}
	var errs []error
	for _, t := range deletes {
		if gs := groups[t]; len(gs) > 0 {
			gs = slices.Clone(gs)
			sort.Strings(gs)
			errs = append(errs, fmt.Errorf("topic %s still has committed offsets from consumer group(s) %s; stop them and delete their offsets, or pass --force", t, strings.Join(gs, ", ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w, nothing was changed:\n%w", ErrRefused, errors.Join(errs...))
}

// executor runs the phases of step 6, recording each change's status in res.
type executor struct {
	cluster  Cluster
	opts     ApplyOptions
	progress Progress
	res      *Result
}

// pick returns the indexes in res.Changes of the changes one phase executes.
func (ex *executor) pick(match func(Change) bool) []int {
	var idx []int
	for i, cr := range ex.res.Changes {
		if match(cr.Change) {
			idx = append(idx, i)
		}
	}
	return idx
}

func (ex *executor) start(idx []int) {
	for _, i := range idx {
		ex.progress(Event{Index: i + 1, Total: len(ex.res.Changes), Change: ex.res.Changes[i].Change, Status: Running})
	}
}

// finish records a phase's outcome; callErr fails every change of the phase. It reports whether
// the apply may go on.
func (ex *executor) finish(idx []int, out Outcome, callErr error) bool {
	ok := true
	for _, i := range idx {
		cr := &ex.res.Changes[i]
		err := callErr
		if err == nil {
			err = out[cr.Change.Name]
		}
		if err != nil {
			cr.Status, cr.Err, ok = Failed, err, false
		} else {
			cr.Status = Applied
		}
		ex.progress(Event{Index: i + 1, Total: len(ex.res.Changes), Change: cr.Change, Status: cr.Status, Err: cr.Err})
	}
	return ok
}

// fail marks changes failed before any request was sent (a malformed plan).
func (ex *executor) fail(idx []int, err error) bool {
	return ex.finish(idx, nil, err)
}

func (ex *executor) create(ctx context.Context) bool {
	idx := ex.pick(func(c Change) bool { return c.Kind == KindTopic && c.Action == Create })
	if len(idx) == 0 {
		return true
	}
	var ts []spec.Topic
	for _, i := range idx {
		t, err := topicFromChange(ex.res.Changes[i].Change)
		if err != nil {
			return ex.fail(idx, err)
		}
		ts = append(ts, t)
	}
	ex.start(idx)
	out, err := ex.cluster.CreateTopics(ctx, ts)
	return ex.finish(idx, out, wrap("create topics", err))
}

func (ex *executor) partitions(ctx context.Context) bool {
	idx := ex.pick(func(c Change) bool { return c.Kind == KindPartitions && c.Action == Update })
	if len(idx) == 0 {
		return true
	}
	totals := map[string]int{}
	for _, i := range idx {
		c := ex.res.Changes[i].Change
		n, err := strconv.Atoi(c.After[KeyPartitions])
		if err != nil {
			return ex.fail(idx, fmt.Errorf("plan: topic %s: partitions %q: %w", c.Name, c.After[KeyPartitions], err))
		}
		totals[c.Name] = n
	}
	ex.start(idx)
	out, err := ex.cluster.CreatePartitions(ctx, totals)
	return ex.finish(idx, out, wrap("add partitions", err))
}

func (ex *executor) configs(ctx context.Context) bool {
	idx := ex.pick(func(c Change) bool { return c.Kind == KindConfig && c.Action == Update })
	if len(idx) == 0 {
		return true
	}
	var changes []ConfigChange
	for _, i := range idx {
		changes = append(changes, configChange(ex.res.Changes[i].Change))
	}
	ex.start(idx)
	out, err := ex.cluster.AlterTopicConfigs(ctx, changes)
	return ex.finish(idx, out, wrap("alter topic configs", err))
}

// configChange turns a config Change into the incremental alteration: After's keys are set,
// keys only in Before are deleted.
func configChange(c Change) ConfigChange {
	cc := ConfigChange{Topic: c.Name, Set: map[string]string{}}
	for k, v := range c.After {
		cc.Set[k] = v
	}
	for k := range c.Before {
		if _, ok := c.After[k]; !ok {
			cc.Delete = append(cc.Delete, k)
		}
	}
	sort.Strings(cc.Delete)
	return cc
}

func (ex *executor) reassign(ctx context.Context) bool {
	idx := ex.pick(func(c Change) bool { return c.Kind == KindReplication && c.Action == Update })
	if len(idx) == 0 {
		return true
	}
	var moves []Reassignment
	for _, i := range idx {
		m, err := reassignmentFromChange(ex.res.Changes[i].Change)
		if err != nil {
			return ex.fail(idx, err)
		}
		moves = append(moves, m)
	}
	ex.start(idx)
	if rate := ex.opts.ThrottleBytesPerSec; rate > 0 {
		if err := ex.cluster.SetReplicationThrottle(ctx, rate, moves); err != nil {
			return ex.fail(idx, fmt.Errorf("set replication throttle: %w", err))
		}
		defer func() {
			// The throttle must not outlive the move, even when the apply is interrupted.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if err := ex.cluster.ClearReplicationThrottle(cctx, moves); err != nil {
				ex.progress(Event{Status: Failed, Err: err, Message: "could not clear the replication throttle; remove leader/follower.replication.throttled.* by hand"})
			}
		}()
	}
	out, err := ex.cluster.ReassignPartitions(ctx, moves)
	if err != nil || slices.ContainsFunc(idx, func(i int) bool { return out[ex.res.Changes[i].Change.Name] != nil }) {
		return ex.finish(idx, out, wrap("reassign partitions", err))
	}
	names := make([]string, len(moves))
	for i, m := range moves {
		names[i] = m.Topic
	}
	wctx, cancel := context.WithTimeout(ctx, ex.opts.ReassignTimeout)
	defer cancel()
	// Report when the set of moving topics changes, and otherwise every 30 s: one line per poll
	// (every second, for up to ReassignTimeout) buried the rest of the output.
	start := time.Now()
	var told string
	var toldAt time.Time
	for {
		running, err := ex.cluster.ReassignmentsInProgress(wctx, names)
		if err == nil && len(running) == 0 {
			return ex.finish(idx, nil, nil)
		}
		if err == nil {
			if now := strings.Join(running, ", "); now != told || time.Since(toldAt) >= 30*time.Second {
				told, toldAt = now, time.Now()
				ex.progress(Event{Status: Running, Message: fmt.Sprintf("waiting for reassignment of %s (%s elapsed, up to %s)",
					now, time.Since(start).Round(time.Second), ex.opts.ReassignTimeout)})
			}
			err = sleep(wctx, ex.opts.PollInterval)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("reassignment still running after %s; it continues in the background, run apply again to check on it", ex.opts.ReassignTimeout)
			}
			return ex.fail(idx, fmt.Errorf("wait for reassignment: %w", err))
		}
	}
}

func (ex *executor) delete(ctx context.Context) bool {
	idx := ex.pick(func(c Change) bool { return c.Kind == KindTopic && c.Action == Delete })
	if len(idx) == 0 {
		return true
	}
	names := make([]string, len(idx))
	for j, i := range idx {
		names[j] = ex.res.Changes[i].Change.Name
	}
	ex.start(idx)
	out, err := ex.cluster.DeleteTopics(ctx, names)
	return ex.finish(idx, out, wrap("delete topics", err))
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// topicFromChange rebuilds the topic a create change describes (a saved plan carries no spec).
func topicFromChange(c Change) (spec.Topic, error) {
	t := spec.Topic{Name: c.Name, Config: map[string]string{}}
	var err error
	for k, v := range c.After {
		switch k {
		case KeyPartitions:
			t.Partitions, err = strconv.Atoi(v)
		case KeyReplicationFactor:
			t.ReplicationFactor, err = strconv.Atoi(v)
		default:
			t.Config[k] = v
		}
		if err != nil {
			return t, fmt.Errorf("plan: topic %s: %s %q: %w", c.Name, k, v, err)
		}
	}
	return t, nil
}

func reassignmentFromChange(c Change) (Reassignment, error) {
	r := Reassignment{Topic: c.Name, Replicas: map[int32][]int32{}}
	for k, v := range c.After {
		p, ok := strings.CutPrefix(k, KeyPartitionPrefix)
		if !ok {
			continue
		}
		id, err := strconv.Atoi(p)
		if err != nil {
			return r, fmt.Errorf("plan: topic %s: %s: %w", c.Name, k, err)
		}
		if r.Replicas[int32(id)], err = parseIDs(v); err != nil {
			return r, fmt.Errorf("plan: topic %s: %s: %w", c.Name, k, err)
		}
	}
	if len(r.Replicas) == 0 {
		return r, fmt.Errorf("plan: topic %s: replication change without partition assignments", c.Name)
	}
	return r, nil
}
