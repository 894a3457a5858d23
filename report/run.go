package report

import (
	"encoding/json"
	"io"

	"github.com/avatar-project/avatar-sync/reconcile"
)

// RenderRunJSON writes the plan document of docs/plan-json.md (reconcile.DocumentOf): for a run
// whose every target was planned it is byte for byte the document `plan --out` saves, so what a
// machine reads is what apply loads. A target that could not be planned appears with its error
// (such a document is never saved: reconcile.WriteRun refuses it).
func RenderRunJSON(w io.Writer, run reconcile.Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(reconcile.DocumentOf(run))
}
