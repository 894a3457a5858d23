package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// executor runs the phases of Apply's step 7, recording each change's status in res. Every phase
// executes typed payloads as they are; nothing is parsed here.
type executor struct {
	cluster  Cluster
	opts     ApplyOptions
	progress Progress
	res      *plans.Result
	// uncertain are the indexes of changes whose request as a whole failed (timed out, ctx
	// ended): they may have landed, and settle decides from the live state.
	uncertain []int
}

// pick returns the indexes in res.Changes of the changes one phase executes.
func (ex *executor) pick(match func(plans.Change) bool) []int {
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
		ex.progress(plans.Event{Index: i + 1, Total: len(ex.res.Changes), Change: ex.res.Changes[i].Change, Status: plans.Running})
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
		switch {
		case err == nil:
			cr.Status = plans.Applied
		case callErr != nil:
			// The request as a whole failed: whether it landed is for settle to find out.
			cr.Status, cr.Err, ok = plans.Unknown, err, false
			ex.uncertain = append(ex.uncertain, i)
		default:
			cr.Status, cr.Err, ok = plans.Failed, err, false
		}
		ex.progress(plans.Event{Index: i + 1, Total: len(ex.res.Changes), Change: cr.Change, Status: cr.Status, Err: cr.Err})
	}
	return ok
}

// settle re-reads the live state with a fresh bounded context (ctx may have ended) and turns each
// uncertain change into what is now true: applied, or failed (not applied); unknown stays when
// the state cannot be read. It returns the live state for the convergence check.
func (ex *executor) settle(ctx context.Context) (plans.Live, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ex.opts.CleanupTimeout)
	defer cancel()
	live, err := ex.cluster.Describe(rctx)
	if err != nil {
		return live, err
	}
	for _, i := range ex.uncertain {
		cr := &ex.res.Changes[i]
		if plans.Landed(cr.Change, live) {
			cr.Status, cr.Err = plans.Applied, nil
			ex.progress(plans.Event{Index: i + 1, Total: len(ex.res.Changes), Change: cr.Change, Status: plans.Applied,
				Message: fmt.Sprintf("%s: the request did not answer in time, but the live state shows it applied", plans.Headline(cr.Change))})
		} else {
			cr.Status = plans.Failed
		}
	}
	return live, nil
}

// inventory records adopted topics and, ahead of creating them, the topics to create: a crash
// between the two leaves an inventory entry for a topic that does not exist (harmless), never a
// topic avatar-sync made but does not know it manages.
func (ex *executor) inventory(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindInventory && c.Action == plans.Update })
	var add []string
	for _, i := range idx {
		add = append(add, ex.res.Changes[i].Change.Name)
	}
	creates := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindTopic && c.Action == plans.Create })
	for _, i := range creates {
		add = append(add, ex.res.Changes[i].Change.Name)
	}
	if len(add) == 0 {
		return true
	}
	ex.start(idx)
	err := ex.cluster.RecordInventory(ctx, add, nil)
	if err != nil && len(idx) == 0 {
		// Only creates asked for it: they must not run unrecorded.
		return ex.finish(creates, nil, fmt.Errorf("record topics to create in the inventory: %w", err))
	}
	return ex.finish(idx, nil, wrap("record topics in the inventory", err))
}

func (ex *executor) create(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindTopic && c.Action == plans.Create })
	if len(idx) == 0 {
		return true
	}
	ts := make([]spec.Topic, len(idx))
	for j, i := range idx {
		c := ex.res.Changes[i].Change
		ts[j] = spec.Topic{Name: c.Name, Partitions: c.Topic.Partitions, ReplicationFactor: c.Topic.ReplicationFactor, Config: maps.Clone(c.Topic.Configs)}
	}
	ex.start(idx)
	out, err := ex.cluster.CreateTopics(ctx, ts)
	return ex.finish(idx, out, wrap("create topics", err))
}

func (ex *executor) partitions(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindPartitions && c.Action == plans.Update })
	if len(idx) == 0 {
		return true
	}
	totals := map[string]int{}
	for _, i := range idx {
		c := ex.res.Changes[i].Change
		totals[c.Name] = c.Partitions.To
	}
	ex.start(idx)
	out, err := ex.cluster.CreatePartitions(ctx, totals)
	return ex.finish(idx, out, wrap("add partitions", err))
}

func (ex *executor) configs(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindConfig && c.Action == plans.Update })
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

// configChange turns a config payload into the incremental alteration.
func configChange(c plans.Change) ConfigChange {
	cc := ConfigChange{Topic: c.Name, Set: map[string]string{}}
	for k, e := range c.Config.Keys {
		if e.Delete {
			cc.Delete = append(cc.Delete, k)
		} else {
			cc.Set[k] = e.After
		}
	}
	sort.Strings(cc.Delete)
	return cc
}

func (ex *executor) reassign(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindReplication && c.Action == plans.Update })
	if len(idx) == 0 {
		return true
	}
	var moves []Reassignment
	for _, i := range idx {
		c := ex.res.Changes[i].Change
		m := Reassignment{Topic: c.Name, Replicas: make(map[int32][]int32, len(c.Replication.Partitions))}
		for p, mv := range c.Replication.Partitions {
			m.Replicas[p] = slices.Clone(mv.After)
		}
		moves = append(moves, m)
	}
	ex.start(idx)
	if rate := ex.opts.ThrottleBytesPerSec; rate > 0 {
		if err := ex.cluster.SetReplicationThrottle(ctx, rate, moves); err != nil {
			return ex.finish(idx, nil, fmt.Errorf("set replication throttle: %w", err))
		}
		defer func() {
			// The throttle must not outlive the move, even when the apply is interrupted.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ex.opts.CleanupTimeout)
			defer cancel()
			if err := ex.cluster.ClearReplicationThrottle(cctx, moves); err != nil {
				ex.progress(plans.Event{Status: plans.Failed, Err: err, Message: "could not clear the replication throttle; remove leader/follower.replication.throttled.* by hand"})
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
				ex.progress(plans.Event{Status: plans.Running, Message: fmt.Sprintf("waiting for reassignment of %s (%s elapsed, up to %s)",
					now, time.Since(start).Round(time.Second), ex.opts.ReassignTimeout)})
			}
			err = sleep(wctx, ex.opts.PollInterval)
		}
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("reassignment still running after %s; it continues in the background, run apply again to check on it", ex.opts.ReassignTimeout)
			}
			return ex.finish(idx, nil, fmt.Errorf("wait for reassignment: %w", err))
		}
	}
}

func (ex *executor) delete(ctx context.Context) bool {
	idx := ex.pick(func(c plans.Change) bool { return c.Kind == plans.KindTopic && c.Action == plans.Delete })
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

// forget drops deleted topics from the inventory. A failure leaves entries for topics that no
// longer exist, which is harmless (a topic of that name created later by someone else would be
// "managed", so it is reported as a progress error to fix by re-running apply).
func (ex *executor) forget(ctx context.Context) bool {
	var gone []string
	for _, cr := range ex.res.Changes {
		if cr.Change.Kind == plans.KindTopic && cr.Change.Action == plans.Delete && cr.Status == plans.Applied {
			gone = append(gone, cr.Change.Name)
		}
	}
	if len(gone) == 0 {
		return true
	}
	if err := ex.cluster.RecordInventory(ctx, nil, gone); err != nil {
		ex.progress(plans.Event{Status: plans.Failed, Err: err, Message: "could not drop deleted topics from the inventory; run apply again"})
	}
	return true
}

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}
