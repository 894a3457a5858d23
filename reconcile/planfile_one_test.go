package reconcile

import (
	"fmt"
	"io"
	"strings"

	"github.com/avatar-project/avatar-sync/plans"
)

// The tests of one target read and write plan files through these: the document of a one-target
// Run, as `plan --out --cluster NAME` writes it.

// WritePlan writes the document of a one-target Run (SingleRun).
func WritePlan(w io.Writer, p plans.Plan) error { return plans.WriteRun(w, plans.SingleRun(p)) }

// ReadPlan loads a one-target plan document (ReadRun) and returns its plan; a fleet's document is
// refused, naming its targets.
func ReadPlan(r io.Reader) (plans.Plan, error) {
	run, err := plans.ReadRun(r)
	if err != nil {
		return plans.Plan{}, err
	}
	if len(run.Targets) != 1 {
		names := make([]string, len(run.Targets))
		for i, t := range run.Targets {
			names[i] = t.Target
		}
		return plans.Plan{}, fmt.Errorf("read plan: the file holds %d targets (%s), this command applies one", len(names), strings.Join(names, ", "))
	}
	return run.Targets[0].Plan, nil
}
