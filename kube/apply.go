package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
)

// Defaults for the waits of an apply.
const (
	DefaultWaitTimeout  = 5 * time.Minute
	DefaultWaitInterval = 2 * time.Second
)

// execOptions are reconcile's opt-ins and waits plus what the Plane adds: how often waits poll and
// who hears about every step.
type execOptions struct {
	reconcile.ObjectApplyOptions
	// interval is how often status is polled while waiting.
	interval time.Duration
	// progress, when set, hears about every step (applied, waiting, ready, deleted).
	progress func(reconcile.ObjectEvent)
}

// apply executes the changes of a plan made by plan, and only them (issue 11), with the objects
// the plan prepared (ex):
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
func (c *Client) apply(ctx context.Context, p reconcile.ObjectPlan, ex *execution, opts execOptions) error {
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.interval <= 0 {
		opts.interval = DefaultWaitInterval
	}
	if err := c.refuse(ctx, p, ex, opts); err != nil {
		return err
	}
	if !slices.ContainsFunc(p.Changes, plans.Change.Pending) {
		return nil
	}
	byStage := map[int][]step{}
	var deletes []step
	for _, ch := range p.Changes {
		st := step{ref: ch.Object.Object, broker: ch.Object.Broker, action: ch.Action, desired: ex.objects[refKey(ch.Object.Object)]}
		switch ch.Action {
		case create, update, replace:
			byStage[stage(st.desired)] = append(byStage[stage(st.desired)], st)
		case remove:
			deletes = append(deletes, st)
		}
	}
	for _, st := range byStage[0] {
		if _, err := c.applyOne(ctx, st, opts); err != nil {
			return err
		}
	}
	inv := maps.Clone(ex.stored)
	for _, e := range ex.examined {
		// Every object of the render, in sync or not. Only what may ever be pruned is recorded: a
		// cluster-scoped object the render holds (the watch daemon's ClusterRole) is applied but
		// never deleted (issue 21).
		if _, ok := ex.objects[refKey(e.ref)]; ok && outOfScope(e.ref, ex.namespace) == "" {
			inv.add(e.ref)
		}
	}
	// Written only when it changes (issue 23): a new object, or entries outside the target to drop.
	if !inv.equal(ex.stored) || ex.ignored > 0 {
		if err := c.writeInventory(ctx, ex.namespace, ex.inventory, inv); err != nil {
			return err
		}
	}
	for s := 1; s <= 3; s++ {
		for _, st := range byStage[s] {
			if _, err := c.applyOne(ctx, st, opts); err != nil {
				return err
			}
		}
	}
	if err := c.rollWorkloads(ctx, byStage[4], brokerRefs(ex), opts); err != nil {
		return err
	}
	if len(deletes) == 0 {
		return nil
	}
	for i := len(deletes) - 1; i >= 0; i-- {
		st := deletes[i]
		deleted, err := c.deleteIfOwned(ctx, objectFor(st.ref), c.ownerLabels(ex.inventory, ex.namespace), metav1.DeletePropagationBackground)
		if err != nil {
			return fmt.Errorf("target %s: delete %s: %s", c.target, st.ref, oneLine(err))
		}
		if !deleted {
			// Its owner labels went away since the plan: it is no longer provably ours.
			report(opts, st, "left alone: it no longer carries avatar-sync's owner labels")
			continue
		}
		delete(inv, refKey(st.ref))
		report(opts, st, "deleted")
	}
	return c.writeInventory(ctx, ex.namespace, ex.inventory, inv)
}

// step is one pending change as apply executes it: the object, what to do, and the prepared
// object to apply (nil for a delete).
type step struct {
	ref     plans.ObjectRef
	broker  int32
	action  plans.Action
	desired *unstructured.Unstructured
}

// refuse checks every change first and reports every problem, not just the first.
func (c *Client) refuse(ctx context.Context, p reconcile.ObjectPlan, ex *execution, opts execOptions) error {
	var pending []plans.ObjectRef
	for _, ch := range p.Changes {
		if ch.Action != noOp && ch.Object != nil {
			pending = append(pending, ch.Object.Object)
		}
	}
	snap, err := c.observe(ctx, ex.namespace, pending)
	if err != nil {
		return err
	}
	var problems []string
	for _, ch := range p.Changes {
		if ch.Action == noOp {
			continue
		}
		if ch.Kind != plans.KindObject || ch.Object == nil {
			problems = append(problems, fmt.Sprintf("%s: not a Kubernetes object change; plan again", ch.Name))
			continue
		}
		o := ch.Object
		if len(o.Conflicts) > 0 && !opts.ForceConflicts {
			var cs []string
			for _, cf := range o.Conflicts {
				cs = append(cs, cf.Field+" is owned by "+cf.Manager)
			}
			problems = append(problems, fmt.Sprintf("%s: %s; taking them needs --force-conflicts", o.Object, strings.Join(cs, ", ")))
		}
		switch ch.Action {
		case replace:
			if !opts.AllowReplace {
				problems = append(problems, fmt.Sprintf("%s must be replaced (%s); that needs --allow-replace", o.Object, fieldList(o.Fields)))
			}
		case unsupported:
			problems = append(problems, fmt.Sprintf("%s: %s", o.Object, ch.Reason))
		case remove:
			if !opts.Prune || !opts.AllowDelete {
				problems = append(problems, fmt.Sprintf("%s: deleting needs deletion: prune in the spec and --allow-delete", o.Object))
			}
			if why := outOfScope(o.Object, ex.namespace); why != "" {
				problems = append(problems, fmt.Sprintf("%s is %s: avatar-sync never deletes it", o.Object, why))
			}
		}
		if _, ok := ex.objects[refKey(o.Object)]; ch.Action != remove && !ok {
			problems = append(problems, fmt.Sprintf("%s: the plan carries no object to apply; plan again", o.Object))
			continue
		}
		live, err := snap.get(o.Object)
		if err != nil {
			return fmt.Errorf("target %s: %s", c.target, oneLine(err))
		}
		now := ""
		if live != nil {
			now = digest(live, ex.salt)
		}
		if now != o.Live {
			problems = append(problems, fmt.Sprintf("%s changed on the cluster since the plan; plan again", o.Object))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("target %s: %w: %s", c.target, reconcile.ErrRefused, strings.Join(problems, "; "))
	}
	return nil
}

func fieldList(fs []plans.ObjectField) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path+": "+f.Before+" → "+f.After)
	}
	return strings.Join(out, ", ")
}

// applyOne server-side applies one object (forcing ownership: conflicts were refused before) and
// returns the object as the server stored it.
func (c *Client) applyOne(ctx context.Context, st step, opts execOptions) (*unstructured.Unstructured, error) {
	applied, err := c.serverApply(ctx, st.desired, applyMode{force: true})
	if err != nil {
		return nil, fmt.Errorf("target %s: apply %s: %s", c.target, st.ref, oneLine(err))
	}
	report(opts, st, st.action.String()+"d")
	return applied, nil
}

// rollWorkloads creates new workloads together (nothing runs yet, so nothing restarts) and then
// changes existing ones one at a time in plan order (brokers by id), as Strimzi rolls a cluster:
// each waits until Ready before the next may restart. A broker restarts only while every other
// broker's StatefulSet is Ready in Kubernetes (issue 21: with broker 2 at 0/1 an image change
// rolled broker 1) and the Kafka plane says it is safe; so with --no-wait, which does not wait for
// the broker it restarted, an apply restarts at most one broker.
func (c *Client) rollWorkloads(ctx context.Context, changes []step, brokers []brokerRef, opts execOptions) error {
	if len(changes) == 0 {
		return nil
	}
	followers := map[string]*follower{}
	defer func() {
		for _, f := range followers {
			f.close()
		}
	}()
	follow := func(r plans.ObjectRef) *follower {
		gk := groupKind(r)
		if followers[gk] == nil {
			followers[gk] = c.follow(ctx, r.Namespace, r.APIVersion, r.Kind)
		}
		return followers[gk]
	}
	apply := func(st step) error {
		applied, err := c.applyOne(ctx, st, opts)
		if err == nil {
			follow(st.ref).wrote(applied)
		}
		return err
	}
	var created []step
	for _, st := range changes {
		if st.action == create {
			if err := apply(st); err != nil {
				return err
			}
			created = append(created, st)
		}
	}
	for _, st := range created {
		if err := c.waitReady(ctx, follow(st.ref), st, opts); err != nil {
			return err
		}
	}
	var restarted []int32
	for _, st := range changes {
		if st.action == create {
			continue
		}
		if st.broker >= 0 {
			if err := c.othersReady(ctx, follow(st.ref), st, brokers); err != nil {
				msg := fmt.Sprintf("target %s: broker %d (%s) is not restarted: %s", c.target, st.broker, st.ref, err)
				if opts.NoWait && len(restarted) > 0 {
					msg += fmt.Sprintf("; --no-wait does not wait for broker %d, restarted by this apply, so no other broker restarts now: apply again once it is Ready", restarted[len(restarted)-1])
				}
				return errors.New(msg + "; the remaining brokers were left as they are")
			}
		}
		if st.broker >= 0 && opts.SafeToRestart != nil {
			if err := opts.SafeToRestart(ctx, st.broker); err != nil {
				return fmt.Errorf("target %s: broker %d (%s) is not restarted: %s; the remaining brokers were left as they are", c.target, st.broker, st.ref, oneLine(err))
			}
		}
		if st.action == replace {
			if err := c.orphanDelete(ctx, st, opts); err != nil {
				return err
			}
		}
		if err := apply(st); err != nil {
			return err
		}
		if st.broker >= 0 {
			restarted = append(restarted, st.broker)
		}
		if err := c.waitReady(ctx, follow(st.ref), st, opts); err != nil {
			return err
		}
	}
	return nil
}

// brokerRef is one broker StatefulSet of a plan.
type brokerRef struct {
	id  int32
	ref plans.ObjectRef
}

// brokerRefs lists every broker StatefulSet the plan examined, whatever its action: a broker in
// sync must be Ready too before another restarts.
func brokerRefs(ex *execution) []brokerRef {
	var out []brokerRef
	for _, e := range ex.examined {
		if e.broker >= 0 && e.action != remove {
			out = append(out, brokerRef{id: e.broker, ref: e.ref})
		}
	}
	return out
}

// othersReady says which other broker's StatefulSet is not Ready (kstatus Current: observed
// generation, ready and updated replicas, current revision), nil when all are.
func (c *Client) othersReady(ctx context.Context, f *follower, st step, brokers []brokerRef) error {
	var notReady []string
	for _, b := range brokers {
		if b.id == st.broker {
			continue
		}
		live, err := f.get(ctx, b.ref)
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
func (c *Client) orphanDelete(ctx context.Context, st step, opts execOptions) error {
	ref := st.ref
	if err := c.deleteObject(ctx, schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind), ref.Namespace, ref.Name, metav1.DeletePropagationOrphan); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("target %s: replace %s: orphan delete: %s", c.target, st.ref, oneLine(err))
	}
	report(opts, st, "deleted with --cascade=orphan (pods and volumes kept)")
	wctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	for {
		live, err := c.get(wctx, st.ref)
		if err == nil && live == nil {
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("target %s: replace %s: interrupted while waiting for the orphan delete: %w", c.target, st.ref, context.Cause(ctx))
			}
			return fmt.Errorf("target %s: replace %s: still present %s after the orphan delete", c.target, st.ref, opts.WaitTimeout)
		case <-time.After(opts.interval):
		}
	}
}

// waitReady follows the object's kstatus until Current, reporting each new status message.
func (c *Client) waitReady(ctx context.Context, f *follower, st step, opts execOptions) error {
	if opts.NoWait {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, opts.WaitTimeout)
	defer cancel()
	last := ""
	for {
		live, err := f.get(wctx, st.ref)
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
				report(opts, st, "ready")
				return nil
			} else {
				msg = res.Status.String() + ": " + res.Message
			}
		}
		if msg != last && wctx.Err() == nil {
			report(opts, st, "waiting: "+msg)
			last = msg
		}
		select {
		case <-wctx.Done():
			what := st.ref.String()
			if st.broker >= 0 {
				what = fmt.Sprintf("broker %d (%s)", st.broker, st.ref)
			}
			if ctx.Err() != nil {
				// Issue 21: an interrupt (SIGINT, a cancelled pass) is not a time-out.
				return fmt.Errorf("target %s: interrupted while waiting for %s to become ready (last: %s); it was applied and may still be rolling: %w", c.target, what, last, context.Cause(ctx))
			}
			return fmt.Errorf("target %s: %s not ready after %s (%s); see `kubectl -n %s describe %s %s`", c.target, what, opts.WaitTimeout, last, st.ref.Namespace, strings.ToLower(st.ref.Kind), st.ref.Name)
		default:
		}
		f.wait(wctx, opts.interval)
	}
}

// appliedMessages are the progress messages that mean the object now has its new form.
var appliedMessages = map[string]bool{"created": true, "updated": true, "replaced": true, "deleted": true}

// report tells opts.progress about one step: an object applied (Done) or what happens to it,
// a broker's messages prefixed with its id.
func report(opts execOptions, st step, msg string) {
	if opts.progress == nil {
		return
	}
	ev := reconcile.ObjectEvent{Name: st.ref.String(), Done: appliedMessages[msg]}
	if !ev.Done {
		ev.Message = msg
		if st.broker >= 0 {
			ev.Message = fmt.Sprintf("(broker %d) %s", st.broker, msg)
		}
	}
	opts.progress(ev)
}
