package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// SplitTargets reads a --cluster value: one target, or a comma-separated list of them (a fleet,
// issue 20: `--cluster dev,lab`), in order. Empty and repeated names are refused; whether the spec
// declares them is ParseTargets' question (watch asks it of every spec it reads).
func SplitTargets(list string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			return nil, fmt.Errorf("--cluster %q has an empty target name: give target names separated by commas, e.g. --cluster dev,lab", list)
		case seen[n]:
			return nil, fmt.Errorf("--cluster %q names target %q twice: each target is planned and applied once", list, n)
		}
		seen[n] = true
		names = append(names, n)
	}
	return names, nil
}

// ParseTargets is SplitTargets with every name checked against the spec, before anything
// connects.
func ParseTargets(sp *spec.Spec, list string) ([]string, error) {
	names, err := SplitTargets(list)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, err := sp.Target(n); err != nil {
			return nil, fmt.Errorf("--cluster %w", err)
		}
	}
	return names, nil
}

// Fleet is the targets one command names, in the order given: the order a run is shown and
// applied in (promotion order, e.g. dev before lab). A target that could not be opened keeps its
// error and fails its own part of the run; the others go on.
type Fleet struct {
	Names []string
	// Specs[i] is the spec as target Names[i] sees it: its overrides merged in (one parse per
	// target; a target is planned, checked and applied against its own).
	Specs []*spec.Spec
	// Targets[i] is the open target Names[i], nil when Errs[i] says why it could not be opened.
	Targets []*Target
	Errs    []error
}

// OpenFleet opens every target of names concurrently, each with its own bounded reads (ctx);
// specs[i] is the spec as names[i] sees it (its overrides merged in).
func OpenFleet(ctx context.Context, specs []*spec.Spec, names []string, o Options) *Fleet {
	f := &Fleet{Names: names, Specs: specs, Targets: make([]*Target, len(names)), Errs: make([]error, len(names))}
	f.open(ctx, nil, o)
	return f
}

// open opens the fleet's targets at the positions idx (nil: every one) concurrently, an error
// kept as the target's *TargetError.
func (f *Fleet) open(ctx context.Context, idx []int, o Options) {
	if idx == nil {
		idx = make([]int, len(f.Names))
		for i := range idx {
			idx[i] = i
		}
	}
	each(len(idx), func(j int) {
		i := idx[j]
		f.Targets[i], f.Errs[i] = Open(ctx, f.Specs[i], f.Names[i], o)
		if f.Errs[i] != nil {
			f.Errs[i] = &TargetError{Target: f.Names[i], Err: f.Errs[i]}
		}
	})
}

// each runs fn(0..n-1) concurrently, one goroutine per target, and waits for all.
func each(n int, fn func(i int)) {
	if n == 1 {
		fn(0)
		return
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// Close releases the apply locks Lock took that are still held, then closes every open target;
// for embedded targets this is where the state is saved.
func (f *Fleet) Close() error {
	f.Unlock(context.Background())
	var errs []error
	for _, t := range f.Targets {
		if err := t.Close(); err != nil {
			errs = append(errs, fmt.Errorf("target %s: %w", t.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Plan plans every target concurrently. A target that could not be opened or planned carries its
// error in its TargetPlan; the others' plans are complete.
func (f *Fleet) Plan(ctx context.Context, po reconcile.PlanOptions) plans.Run {
	run := plans.Run{Targets: make([]plans.TargetPlan, len(f.Names))}
	each(len(f.Names), func(i int) {
		tp := plans.TargetPlan{Target: f.Names[i], Err: f.Errs[i]}
		if t := f.Targets[i]; t != nil {
			tp.Plan, tp.Err = t.Planner().Plan(ctx, f.Specs[i], po)
		}
		run.Targets[i] = tp
	})
	return run
}

// CheckSaved verifies every target of a saved run against its live cluster (identity, the
// fingerprints, the Kubernetes objects, the passwords: reconcile.Planner.CheckSaved) before any
// target is changed. The run must name the fleet's targets in the fleet's order: apply promotes
// in that order, and a target left out or added would go unreviewed.
func (f *Fleet) CheckSaved(ctx context.Context, run plans.Run) (plans.Run, error) {
	if err := sameTargets(run, f.Names); err != nil {
		return run, fmt.Errorf("the plan %w", err)
	}
	out := plans.Run{Targets: make([]plans.TargetPlan, len(run.Targets))}
	each(len(run.Targets), func(i int) {
		tp := run.Targets[i]
		switch t := f.Targets[i]; {
		case tp.Err != nil:
			tp.Err = fmt.Errorf("target %s was not planned (%w): plan again", tp.Target, tp.Err)
		case t == nil:
			tp.Err = f.Errs[i]
		default:
			if p, err := t.Planner().CheckSaved(ctx, tp.Plan, f.Specs[i]); err != nil {
				tp.Err = err
				if len(run.Targets) > 1 {
					tp.Err = fmt.Errorf("target %s: %w", tp.Target, err)
				}
			} else {
				tp.Plan = p
			}
		}
		out.Targets[i] = tp
	})
	if err := runErr(out); err != nil && len(out.Targets) == 1 {
		return out, err // one target: the planner's own words, as before fleets
	} else if err != nil {
		return out, fmt.Errorf("the saved plan is refused, no target was changed: %w", err)
	}
	return out, nil
}

// Lock takes the apply lock of every target whose brokers answer, in the fleet's order, before
// the run is planned or a saved run checked (reconcile.Planner.Lock): for an apply nobody confirms
// between its plan and its execution (`apply --auto-approve`), so that each target's plan is made
// from the read under its lock and applying it reads the cluster only to settle (issue 23). When a
// lock cannot be taken (another apply holds it past opts.LockWait) the locks already taken are
// released and nothing was read. Apply releases each target's lock when its apply ends; Unlock
// releases the rest.
func (f *Fleet) Lock(ctx context.Context, opts reconcile.ApplyOptions, progress reconcile.Progress) error {
	for i, t := range f.Targets {
		if t == nil {
			continue
		}
		if err := t.Planner().Lock(ctx, opts, progress); err != nil {
			f.Unlock(ctx)
			if len(f.Names) > 1 {
				err = fmt.Errorf("target %s: %w", f.Names[i], err)
			}
			return err
		}
	}
	return nil
}

// Unlock releases every apply lock Lock took that an apply did not (a target with nothing to
// apply, a run refused or stopped before it).
func (f *Fleet) Unlock(ctx context.Context) {
	for _, t := range f.Targets {
		if t != nil {
			t.Planner().Unlock(ctx)
		}
	}
}

// ApplyOptions are a fleet apply's opt-ins, shared by every target.
type ApplyOptions struct {
	// Apply are reconcile's opt-ins and limits; ExpectClusterID and Confirm are set per target by
	// Fleet.Apply (the target's pin; the run is confirmed once, by ApplyHooks.Confirm).
	Apply reconcile.ApplyOptions
	// Continue, for a target whose plan deferred its topics (a fresh cluster: the brokers did not
	// answer), waits up to WaitTimeout once its objects are applied for the brokers to answer,
	// plans the topics and applies them in a second round (ApplyHooks.Replanned confirms it).
	// Never set for a saved plan: its topics were not reviewed.
	Continue    bool
	WaitTimeout time.Duration
	// Plan are the options of the second round's plan.
	Plan reconcile.PlanOptions
}

// ApplyHooks are what the command decides while a run is applied; session prints nothing.
type ApplyHooks struct {
	// Confirm is asked once for the whole run, after every target's plan is checked (opt-ins,
	// identity, verification) and before anything changes. nil = confirmed.
	Confirm func(ctx context.Context, run plans.Run) error
	// Progress is the progress reporter for one target's apply (nil = none).
	Progress func(target string) reconcile.Progress
	// Applied is told each target's result as soon as its apply ends, before the next starts.
	Applied func(target string, p plans.Plan, res plans.Result, err error)
	// Waiting is told before Continue waits for a fresh cluster's brokers.
	Waiting func(target string, timeout time.Duration)
	// Replanned shows and confirms the second round's plan of a fresh cluster (its topics); an
	// error stops the run. nil = confirmed.
	Replanned func(ctx context.Context, target string, p plans.Plan) error
}

// ErrNotAttempted is matched by the error of a run that stopped before some of its targets.
var ErrNotAttempted = errors.New("not attempted")

// Apply applies a checked run (from Plan, or a saved run from CheckSaved) target by target in the
// run's order, one apply lock per target (reconcile.Planner.Apply takes it), and stops at the
// first target that fails: the targets after it are not attempted. Before anything changes, every
// target's plan must be planned and allowed by the opt-ins, and the run is confirmed once.
//
// results holds one Result per target apply went through, in order (the last round's for a fresh
// cluster that continued); on an error it belongs to the last of them (report.RenderRunResultJSON
// reads them so). A run refused before any change has no results, except a one-target run: its
// target was the one refused, and its result lists every pending change NotAttempted.
func (f *Fleet) Apply(ctx context.Context, run plans.Run, o ApplyOptions, h ApplyHooks) ([]plans.Result, error) {
	refused := func(err error) ([]plans.Result, error) {
		if len(run.Targets) == 1 {
			return []plans.Result{notAttempted(run.Targets[0].Plan)}, err
		}
		return nil, err
	}
	if err := runErr(run); err != nil {
		return refused(fmt.Errorf("nothing was changed: %w", err))
	}
	if len(run.Targets) != len(f.Names) {
		return refused(fmt.Errorf("the run has %d target(s), the fleet %d: nothing was changed", len(run.Targets), len(f.Names)))
	}
	// The opt-ins of every target are checked here, once, before any target changes (a fleet
	// refuses as a whole); each target's apply is given the token and does not check again.
	var errs []error
	allowed := make([]*reconcile.Allowed, len(run.Targets))
	for i, tp := range run.Targets {
		var err error
		if allowed[i], err = allow(tp.Plan, o.Apply); err != nil {
			if len(run.Targets) > 1 {
				err = fmt.Errorf("target %s: %w", tp.Target, err)
			}
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return refused(err)
	}
	if h.Confirm != nil && run.HasChanges() {
		if err := h.Confirm(ctx, run); err != nil {
			return refused(err)
		}
	}
	var results []plans.Result
	for i, tp := range run.Targets {
		t := f.Targets[i]
		res, err := f.applyTarget(ctx, t, tp.Plan, allowed[i], o, h)
		if err == nil && o.Continue && tp.Plan.TopicsDeferred() {
			res, err = f.continueDeferred(ctx, f.Specs[i], t, o, h)
		}
		results = append(results, res)
		if err != nil {
			var rest []string
			for _, later := range run.Targets[i+1:] {
				rest = append(rest, later.Target)
			}
			if len(rest) > 0 {
				err = fmt.Errorf("target %s: %w\n(%w: %s; fix %s and apply again)", tp.Target, err, ErrNotAttempted, strings.Join(rest, ", "), tp.Target)
			} else if len(run.Targets) > 1 {
				err = fmt.Errorf("target %s: %w", tp.Target, err)
			}
			return results, err
		}
	}
	return results, nil
}

// allow is reconcile.Allow; a variable so that a test sees the tokens the fleet hands its applies.
var allow = reconcile.Allow

// applyTarget applies one target's plan (already confirmed) and tells the hooks.
// allowed is the plan's checked opt-ins (nil: Planner.Apply checks them).
func (f *Fleet) applyTarget(ctx context.Context, t *Target, p plans.Plan, allowed *reconcile.Allowed, o ApplyOptions, h ApplyHooks) (plans.Result, error) {
	res := plans.Result{ClusterID: p.ClusterID}
	var err error
	if p.HasChanges() {
		ao := o.Apply
		ao.ExpectClusterID, ao.Confirm, ao.Allowed = t.Pinned, nil, allowed
		var progress reconcile.Progress
		if h.Progress != nil {
			progress = h.Progress(t.Name)
		}
		res, err = t.Planner().Apply(ctx, p, ao, progress)
	}
	// A lock Lock took is released as soon as the target is done, not at the end of the run.
	t.Planner().Unlock(ctx)
	if h.Applied != nil {
		h.Applied(t.Name, p, res, err)
	}
	return res, err
}

// continueDeferred is a fresh cluster's second round (issue 11): the brokers exist once the
// objects are applied; the topics need them.
func (f *Fleet) continueDeferred(ctx context.Context, sp *spec.Spec, t *Target, o ApplyOptions, h ApplyHooks) (plans.Result, error) {
	if h.Waiting != nil {
		h.Waiting(t.Name, o.WaitTimeout)
	}
	if err := t.WaitForKafka(ctx, sp, o.WaitTimeout); err != nil {
		return plans.Result{}, err
	}
	p, err := t.Planner().Plan(ctx, sp, o.Plan)
	if err != nil {
		return plans.Result{}, err
	}
	if h.Replanned != nil {
		if err := h.Replanned(ctx, t.Name, p); err != nil {
			return plans.Result{ClusterID: p.ClusterID}, err
		}
	}
	return f.applyTarget(ctx, t, p, nil, o, h) // a new plan: Planner.Apply checks its opt-ins
}

// notAttempted is the result of a target the run never reached: every pending change NotAttempted.
func notAttempted(p plans.Plan) plans.Result {
	return plans.Result{ClusterID: p.ClusterID, Changes: reconcile.NotAttempted(p)}
}

// runErr joins the errors of the run's targets that could not be planned (nil = every target has
// its plan).
func runErr(run plans.Run) error {
	var errs []error
	for _, tp := range run.Targets {
		if tp.Err != nil {
			errs = append(errs, tp.Err)
		}
	}
	return errors.Join(errs...)
}

// LoadFleet loads the spec for a --cluster value and checks the names against it before anything
// connects (LoadSpec, ParseTargets). The spec is read and parsed once; each target gets its own
// overrides merged in (as `config --cluster NAME` shows it): specs[i] is names[i]'s. The warnings
// are the first target's: the spec's own, shown once.
func LoadFleet(ctx context.Context, file string, stdin io.Reader, list string) (names []string, specs []*spec.Spec, warnings spec.Diagnostics, err error) {
	return loadFleet(ctx, file, stdin, list, loadAs{})
}

// loadFleet is LoadFleet with what an invalid spec's error calls the file and its positions.
func loadFleet(ctx context.Context, file string, stdin io.Reader, list string, as loadAs) (names []string, specs []*spec.Spec, warnings spec.Diagnostics, err error) {
	load := specLoader(ctx, file, stdin, as)
	first := list // one target: exactly as before fleets
	if i := strings.Index(list, ","); i >= 0 {
		first = strings.TrimSpace(list[:i])
	}
	sp, warnings, err := load(first)
	if err != nil {
		return nil, nil, warnings, err
	}
	if names, err = ParseTargets(sp, list); err != nil {
		return nil, nil, warnings, err
	}
	specs = []*spec.Spec{sp}
	for _, name := range names[1:] {
		if sp, _, err = load(name); err != nil {
			return nil, nil, warnings, fmt.Errorf("target %s: %w", name, err)
		}
		specs = append(specs, sp)
	}
	return names, specs, warnings, nil
}
