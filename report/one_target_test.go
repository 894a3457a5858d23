package report

import (
	"io"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// The one-target views the tests render: the fleet views of a one-target run.

// RenderJSON is RenderRunJSON of a one-target run (reconcile.SingleRun).
func RenderJSON(w io.Writer, p reconcile.Plan) error { return RenderRunJSON(w, reconcile.SingleRun(p)) }

// RenderResultJSON is RenderRunResultJSON of a one-target run (reconcile.SingleRun).
func RenderResultJSON(w io.Writer, p reconcile.Plan, res reconcile.Result, applyErr error) error {
	return RenderRunResultJSON(w, reconcile.SingleRun(p), []reconcile.Result{res}, applyErr)
}
