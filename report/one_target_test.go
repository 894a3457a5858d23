package report

import (
	"io"

	"github.com/avatar-project/avatar-sync/plans"
)

// The one-target views the tests render: the fleet views of a one-target run.

// RenderJSON is RenderRunJSON of a one-target run (reconcile.SingleRun).
func RenderJSON(w io.Writer, p plans.Plan) error { return RenderRunJSON(w, plans.SingleRun(p)) }

// RenderResultJSON is RenderRunResultJSON of a one-target run (reconcile.SingleRun).
func RenderResultJSON(w io.Writer, p plans.Plan, res plans.Result, applyErr error) error {
	return RenderRunResultJSON(w, plans.SingleRun(p), []plans.Result{res}, applyErr)
}
