package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/fluxcd/pkg/ssa"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults for ApplyOptions' waits.
const (
	DefaultWaitTimeout  = 5 * time.Minute
	DefaultWaitInterval = 2 * time.Second
)

// ApplyOptions are Options plus how Apply waits.
type ApplyOptions struct {
	Options
	// NoWait skips every wait (--no-wait): objects are applied in stage order, brokers without
	// waiting for one to be Ready before the next.
	NoWait bool
	// WaitTimeout bounds each wait for an object to become Ready (one broker, one replace).
	WaitTimeout time.Duration
	// Interval is how often status is polled while waiting.
	Interval time.Duration
	// SafeToRestart is asked before a broker's StatefulSet is changed. It returns an error while the
	// broker must not restart (issue 11: a partition it leads or follows is under-replicated or
	// would fall below min.insync.replicas); the Kafka plane provides it. Nil means no check.
	SafeToRestart func(ctx context.Context, broker int32) error
	// Progress, when set, hears about every step (applied, waiting, ready, deleted).
	Progress func(Progress)
}

// Progress is one step of an apply, for the command to print.
type Progress struct {
	Object ObjectRef
	// Broker is the node id when Object is a broker StatefulSet, else -1.
	Broker  int32
	Message string
}

// ErrRefused wraps every reason Apply refuses a plan before changing anything.
var ErrRefused = errors.New("apply refused")

// Apply executes a plan made by Plan, and only it (issue 11):
//
//  1. refuse, before changing anything, when a change needs an opt-in it was not given (conflicts,
//     replace, delete), is unsupported, or its object changed since the plan;
//  2. apply the Namespace, then record the inventory (old entries plus everything about to be
//     applied), so a failure half way never leaves an object avatar-sync cannot prune;
//  3. apply Secrets and ConfigMaps, then Services, then other objects, by server-side apply;
//  4. create new StatefulSets and wait for them; roll changed broker StatefulSets one at a time,
//     each only while every other broker's StatefulSet is Ready and after SafeToRestart allows it,
//     and waited for until Ready (bounded; an interrupt is reported as one);
//  5. delete pruned objects (only listed ones in the target, still carrying the owner labels) and
//     write the final inventory.
func (c *Client) Apply(ctx context.Context, p Plan, opts ApplyOptions) error {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.Interval <= 0 {
		opts.Interval = DefaultWaitInterval
	}
	if err := c.refuse(ctx, p, opts); err != nil {
		return err
	}
	if !p.Pending() {
		return nil
	}
	inv, err := c.readInventory(ctx, p.Namespace, p.Inventory)
	if err != nil {
		return err
	}
	byStage := map[int][]ObjectChange{}
	var deletes []ObjectChange
	for _, ch := range p.Changes {
		switch ch.Action {
		case Create, Update, Replace:
			byStage[stage(ch.desired)] = append(byStage[stage(ch.desired)], ch)
		case Delete:
			deletes = append(deletes, ch)
		}
	}
	for _, ch := range byStage[0] {
		if err := c.applyOne(ctx, ch, opts); err != nil {
			return err
		}
	}
	for _, ch := range p.Changes {
		// Only what may ever be pruned is recorded: a cluster-scoped object the render holds
		// (the watch daemon's ClusterRole) is applied but never deleted (issue 21).
		if ch.desired != nil && outOfScope(ch.Object, p.Namespace) == "" {
			inv.add(ch.Object)
		}
	}
	if err := c.writeInventory(ctx, p.Namespace, p.Inventory, inv); err != nil {
		return err
	}
	for s := 1; s <= 3; s++ {
		for _, ch := range byStage[s] {
			if err := c.applyOne(ctx, ch, opts); err != nil {
				return err
			}
		}
	}
	if err := c.rollWorkloads(ctx, byStage[4], brokerRefs(p), opts); err != nil {
		return err
	}
	for i := len(deletes) - 1; i >= 0; i-- {
		ch := deletes[i]
		entry, err := c.rm.Delete(ctx, ch.Object.object(), ssa.DeleteOptions{
			PropagationPolicy: metav1.DeletePropagationBackground,
			Inclusions:        c.ownerLabels(p.Inventory, p.Namespace),
		})
		if err != nil {
			return fmt.Errorf("target %s: delete %s: %s", c.target, ch.Object, oneLine(err))
		}
		if entry != nil && entry.Action == ssa.SkippedAction {
			// Its owner labels went away since the plan: it is no longer provably ours.
			report(opts, ch, "left alone: it no longer carries avatar-sync's owner labels")
			continue
		}
		delete(inv, ch.Object.key())
		report(opts, ch, "deleted")
	}
	return c.writeInventory(ctx, p.Namespace, p.Inventory, inv)
}

// refuse checks every change first and reports every problem, not just the first.
func (c *Client) refuse(ctx context.Context, p Plan, opts ApplyOptions) error {
	var problems []string
	for _, ch := range p.Changes {
		if ch.Action == NoOp {
			continue
		}
		if len(ch.Conflicts) > 0 && !opts.ForceConflicts {
			var cs []string
			for _, cf := range ch.Conflicts {
				cs = append(cs, cf.String())
			}
			problems = append(problems, fmt.Sprintf("%s: %s; taking them needs --force-conflicts", ch.Object, strings.Join(cs, ", ")))
		}
		switch ch.Action {
		case Replace:
			if !opts.Replace {
				problems = append(problems, fmt.Sprintf("%s must be replaced (%s); that needs --allow-replace", ch.Object, fieldList(ch.Fields)))
			}
		case Unsupported:
			problems = append(problems, fmt.Sprintf("%s: %s", ch.Object, ch.Reason))
		case Delete:
			if !opts.Prune || !opts.AllowDelete {
				problems = append(problems, fmt.Sprintf("%s: deleting needs deletion: prune in the spec and --allow-delete", ch.Object))
			}
			if why := outOfScope(ch.Object, p.Namespace); why != "" {
				problems = append(problems, fmt.Sprintf("%s is %s: avatar-sync never deletes it", ch.Object, why))
			}
		}
		if ch.Action != Delete && ch.desired == nil {
			problems = append(problems, fmt.Sprintf("%s: the plan carries no object to apply; plan again", ch.Object))
			continue
		}
		live, err := c.get(ctx, ch.Object)
		if err != nil {
			return fmt.Errorf("target %s: %s", c.target, oneLine(err))
		}
		now := ""
		if live != nil {
			now = digest(live, p.Salt)
		}
		if now != ch.Live {
			problems = append(problems, fmt.Sprintf("%s changed on the cluster since the plan; plan again", ch.Object))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("target %s: %w: %s", c.target, ErrRefused, strings.Join(problems, "; "))
	}
	return nil
}

func fieldList(fs []FieldDiff) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.String())
	}
	return strings.Join(out, ", ")
}

// applyOne server-side applies one object (ssa forces ownership; conflicts were refused before).
func (c *Client) applyOne(ctx context.Context, ch ObjectChange, opts ApplyOptions) error {
	if _, err := c.rm.Apply(ctx, ch.desired, ssa.DefaultApplyOptions()); err != nil {
		return fmt.Errorf("target %s: apply %s: %s", c.target, ch.Object, oneLine(err))
	}
	report(opts, ch, ch.Action.String()+"d")
	return nil
}

// rollWorkloads creates new workloads together (nothing runs yet, so nothing restarts) and then
// changes existing ones one at a time in plan order (brokers by id), as Strimzi rolls a cluster:
// each waits until Ready before the next may restart. A broker restarts only while every other
// broker's StatefulSet is Ready in Kubernetes (issue 21: with broker 2 at 0/1 an image change
// rolled broker 1) and the Kafka plane says it is safe; so with --no-wait, which does not wait for
// the broker it restarted, an apply restarts at most one broker.
func (c *Client) rollWorkloads(ctx context.Context, changes []ObjectChange, brokers []brokerRef, opts ApplyOptions) error {
	var created []ObjectChange
	for _, ch := range changes {
		if ch.Action == Create {
			if err := c.applyOne(ctx, ch, opts); err != nil {
				return err
			}
			created = append(created, ch)
		}
	}
	for _, ch := range created {
		if err := c.waitReady(ctx, ch, opts); err != nil {
			return err
		}
	}
	var restarted []int32
	for _, ch := range changes {
		if ch.Action == Create {
			continue
		}
		if ch.Broker >= 0 {
			if err := c.othersReady(ctx, ch, brokers); err != nil {
				msg := fmt.Sprintf("target %s: broker %d (%s) is not restarted: %s", c.target, ch.Broker, ch.Object, err)
				if opts.NoWait && len(restarted) > 0 {
					msg += fmt.Sprintf("; --no-wait does not wait for broker %d, restarted by this apply, so no other broker restarts now: apply again once it is Ready", restarted[len(restarted)-1])
				}
				return errors.New(msg + "; the remaining brokers were left as they are")
			}
		}
		if ch.Broker >= 0 && opts.SafeToRestart != nil {
			if err := opts.SafeToRestart(ctx, ch.Broker); err != nil {
				return fmt.Errorf("target %s: broker %d (%s) is not restarted: %s; the remaining brokers were left as they are", c.target, ch.Broker, ch.Object, oneLine(err))
			}
		}
		if ch.Action == Replace {
			if err := c.orphanDelete(ctx, ch, opts); err != nil {
				return err
			}
		}
		if err := c.applyOne(ctx, ch, opts); err != nil {
			return err
		}
		if ch.Broker >= 0 {
			restarted = append(restarted, ch.Broker)
		}
		if err := c.waitReady(ctx, ch, opts); err != nil {
			return err
		}
	}
	return nil
}

// brokerRef is one broker StatefulSet of a plan.
type brokerRef struct {
	id  int32
	ref ObjectRef
}

// brokerRefs lists every broker StatefulSet the plan examined, whatever its action: a broker in
// sync must be Ready too before another restarts.
func brokerRefs(p Plan) []brokerRef {
	var out []brokerRef
	for _, ch := range p.Changes {
		if ch.Broker >= 0 && ch.Action != Delete {
			out = append(out, brokerRef{id: ch.Broker, ref: ch.Object})
		}
	}
	return out
}

// othersReady says which other broker's StatefulSet is not Ready (kstatus Current: observed
// generation, ready and updated replicas, current revision), nil when all are.
func (c *Client) othersReady(ctx context.Context, ch ObjectChange, brokers []brokerRef) error {
	var notReady []string
	for _, b := range brokers {
		if b.id == ch.Broker {
			continue
		}
		live, err := c.get(ctx, b.ref)
		if err != nil {
			return fmt.Errorf("cannot tell whether broker %d is ready: %s", b.id, oneLine(err))
		}
		why := ""
		switch {
		case live == nil:
			why = "not found"
		default:
			res, err := status.Compute(live)
			switch {
			case err != nil:
				why = oneLine(err)
			case res.Status != status.CurrentStatus:
				why = res.Status.String() + ": " + res.Message
			}
		}
		if why != "" {
			notReady = append(notReady, fmt.Sprintf("broker %d (%s) is not ready in Kubernetes (%s)", b.id, b.ref, why))
		}
	}
	if len(notReady) > 0 {
		return errors.New(strings.Join(notReady, ", "))
	}
	return nil
}

// orphanDelete removes a StatefulSet but not its pods and volumes, so the recreated one adopts them.
func (c *Client) orphanDelete(ctx context.Context, ch ObjectChange, opts ApplyOptions) error {
	if err := c.client.Delete(ctx, ch.Object.object(), client.PropagationPolicy(metav1.DeletePropagationOrphan)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("target %s: replace %s: orphan delete: %s", c.target, ch.Object, oneLine(err))
	}
	report(opts, ch, "deleted with --cascade=orphan (pods and volumes kept)")
	wctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	for {
		live, err := c.get(wctx, ch.Object)
		if err == nil && live == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("target %s: replace %s: interrupted while waiting for the orphan delete: %w", c.target, ch.Object, context.Cause(ctx))
			}
			return fmt.Errorf("target %s: replace %s: still present %s after the orphan delete", c.target, ch.Object, opts.WaitTimeout)
		case <-time.After(opts.Interval):
		}
	}
}

// waitReady polls the object's kstatus until Current, reporting each new status message.
func (c *Client) waitReady(ctx context.Context, ch ObjectChange, opts ApplyOptions) error {
	if opts.NoWait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	last := ""
	for {
		live, err := c.get(wctx, ch.Object)
		msg := ""
		switch {
		case err != nil:
			msg = oneLine(err)
		case live == nil:
			msg = "not found"
		default:
			res, err := status.Compute(live)
			if err != nil {
				msg = oneLine(err)
			} else if res.Status == status.CurrentStatus {
				report(opts, ch, "ready")
				return nil
			} else {
				msg = res.Status.String() + ": " + res.Message
			}
		}
		if msg != last && wctx.Err() == nil {
			report(opts, ch, "waiting: "+msg)
			last = msg
		}
		select {
		case <-wctx.Done():
			what := ch.Object.String()
			if ch.Broker >= 0 {
				what = fmt.Sprintf("broker %d (%s)", ch.Broker, ch.Object)
			}
			if ctx.Err() != nil {
				// Issue 21: an interrupt (SIGINT, a cancelled pass) is not a time-out.
				return fmt.Errorf("target %s: interrupted while waiting for %s to become ready (last: %s); it was applied and may still be rolling: %w", c.target, what, last, context.Cause(ctx))
			}
			return fmt.Errorf("target %s: %s not ready after %s (%s); see `kubectl -n %s describe %s %s`", c.target, what, opts.WaitTimeout, last, ch.Object.Namespace, strings.ToLower(ch.Object.Kind), ch.Object.Name)
		case <-time.After(opts.Interval):
		}
	}
}

func report(opts ApplyOptions, ch ObjectChange, msg string) {
	if opts.Progress != nil {
		opts.Progress(Progress{Object: ch.Object, Broker: ch.Broker, Message: msg})
	}
}
