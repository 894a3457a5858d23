package report

import (
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/plans"
)

// PlanOut is what plan --out did with a run: saved to Path, ApplyLine being the command that
// applies exactly that plan, or not saved because a target could not be planned. An empty Path
// is a plan without --out.
type PlanOut struct {
	Path      string
	Saved     bool
	ApplyLine string
}

// RenderPlanOut writes plan --out's line for people (stderr): where the plan was saved and the line
// that applies exactly it, or that it was not saved; nothing without --out.
func RenderPlanOut(w io.Writer, o PlanOut) error {
	var err error
	switch {
	case o.Path == "":
	case o.Saved:
		_, err = fmt.Fprintf(w, "Saved the plan to %s; apply exactly this plan with: %s\n", o.Path, o.ApplyLine)
	default:
		_, err = fmt.Fprintf(w, "The plan was not saved to %s: every target must be planned.\n", o.Path)
	}
	return err
}

// RenderAdvisoryNotes writes every target's advisories as "note: <subject>: <reason>" lines, for
// people (stderr) when the run itself is written as JSON: the text plan shows them in place.
func RenderAdvisoryNotes(w io.Writer, run plans.Run) error {
	for _, tp := range run.Targets {
		for _, a := range tp.Plan.Advisories {
			if _, err := fmt.Fprintf(w, "note: %s: %s\n", a.Subject, a.Reason); err != nil {
				return err
			}
		}
	}
	return nil
}
